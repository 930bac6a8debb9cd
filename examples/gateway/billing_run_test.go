package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/billing"
)

// The main job meters every call: the records file named at start gets one
// JSON line per attempt, priced, with the usage the SDK saw.
func TestBillingMainJobRecordsEveryCall(t *testing.T) {
	dir := t.TempDir()
	records := filepath.Join(dir, "usage.jsonl")
	cfgPath := filepath.Join(dir, "gateway.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(`providers:
  - {name: sim, type: sim, sim: {completion_tokens: 5}}
billing:
  sinks: {jsonl: {path: `+records+`}}
  budgets:
    policy: expected
    tenants:
      acme: {limit_usd: 10, period: month}
`), 0o600))
	g := startGateway(t, "-config", cfgPath, "-addr", "127.0.0.1:0")
	assert.Contains(t, g.stdout.String(), "usage records: "+records)
	client := sdk(t, g.base, "any")
	c, err := client.Chat.Completions.New(context.Background(), chatParams)
	require.NoError(t, err)
	s := client.Chat.Completions.NewStreaming(context.Background(), chatParams)
	for s.Next() {
	}
	require.NoError(t, s.Err())
	require.NoError(t, s.Close())
	require.Equal(t, 0, g.stop())

	f, err := os.Open(records)
	require.NoError(t, err)
	defer f.Close()
	var recs []billing.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r billing.Record
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
		recs = append(recs, r)
	}
	require.Len(t, recs, 2)
	price, _ := billing.DefaultPrices().Lookup("", "gpt-4o-mini")
	for _, r := range recs {
		assert.True(t, r.CostKnown)
		assert.Equal(t, int(c.Usage.CompletionTokens), r.Usage.CompletionTokens)
		assert.Equal(t, price.Cost(r.Usage), r.Cost)
		assert.Equal(t, "sim", r.Target)
	}
	assert.True(t, recs[1].Stream)
}
