package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrapeSum GETs url (no key) and sums the samples of the metric name
// whose labels include want (name, value pairs): a histogram's count, a
// counter's or gauge's value.
func scrapeSum(t *testing.T, url, name string, want ...string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	var total float64
next:
	for _, m := range fams[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue next
			}
		}
		switch {
		case m.GetHistogram() != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		}
	}
	return total
}

// The main job serves /metrics by default, with no key: after an openai-go
// chat call and a stream, the GenAI duration histogram counts both, the
// first-chunk one the stream, and llmgate_calls_total shows them.
func TestRunEmbeddedDefaultServesMetrics(t *testing.T) {
	g := startGateway(t, "-addr", "127.0.0.1:0")
	assert.Contains(t, g.stdout.String(), "metrics: "+g.base+"/metrics (Prometheus, no key)")
	client := sdk(t, g.base, g.key)
	ctx := context.Background()
	_, err := client.Chat.Completions.New(ctx, chatParams)
	require.NoError(t, err)
	p := chatParams
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: param.NewOpt(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, p)
	chunks := 0
	for stream.Next() {
		chunks++
	}
	require.NoError(t, stream.Err())
	assert.Positive(t, chunks)
	require.NoError(t, stream.Close())

	url := g.base + "/metrics"
	chat := []string{"gen_ai_operation_name", "chat", "gen_ai_request_model", "gpt-4o-mini"}
	// A server-mode call is observed once its handler has finished, which
	// may be just after the caller read the last byte: wait for the stream's.
	require.Eventually(t, func() bool {
		return scrapeSum(t, url, "llmgate_calls_total") == 2
	}, 10*time.Second, 5*time.Millisecond, "both calls observed")
	assert.Equal(t, 2.0, scrapeSum(t, url, "gen_ai_client_operation_duration_seconds", chat...))
	assert.Equal(t, 1.0, scrapeSum(t, url, "gen_ai_client_operation_time_to_first_chunk_seconds", chat...))
	assert.Equal(t, 2.0, scrapeSum(t, url, "gen_ai_client_token_usage", append(chat, "gen_ai_token_type", "output")...))
	assert.Equal(t, 2.0, scrapeSum(t, url, "llmgate_calls_total", "outcome", "ok", "status", "200"))
	assert.Equal(t, 2.0, scrapeSum(t, url, "llmgate_calls_total"))
	assert.Equal(t, 3.0, scrapeSum(t, url, "llmgate_breaker_state", "state", "closed")+scrapeSum(t, url, "llmgate_breaker_state", "state", "open")+
		scrapeSum(t, url, "llmgate_breaker_state", "state", "half-open"), "one state a target")
}
