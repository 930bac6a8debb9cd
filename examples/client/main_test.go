package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The program's output is deterministic: the primary's faults come from a
// seeded generator, so the chat call fails over to the backup and the stream
// is served by the primary, and the usage is what the sims reported.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	assert.Equal(t, `chat: Hi! The backup answered.
  attempts [primary:503 backup:200], served by backup (gpt-4o-mini), usage 10 prompt + 4 completion tokens
stream: Hi! The primary answered.
  attempts [primary:200], served by primary (gpt-4o-mini), usage 10 prompt + 4 completion tokens
`, out.String())
}
