package gateway_test

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// AppendAttempts gives what Attempts gives, into the caller's buffer,
// without an allocation when it has room.
func TestAppendAttemptsIsAttemptsWithoutAllocation(t *testing.T) {
	var call *gateway.Call
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	client := gateway.NewClient(sim, gateway.WithObserver(func(c *gateway.Call) { call = c }))
	resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NotNil(t, call)

	assert.Equal(t, call.Attempts(), call.AppendAttempts(nil))
	var buf [4]gateway.Attempt
	allocs := testing.AllocsPerRun(100, func() {
		if len(call.AppendAttempts(buf[:0])) != 1 {
			t.Fatal("one attempt")
		}
	})
	assert.Zero(t, allocs)
}
