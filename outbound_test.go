package gateway

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regression: the Call's model aliased the body, which the Outbound hands to
// every middleware, so editing the body in place rewrote the model asked
// (what authentication and billing read).
func TestCallModelDoesNotAliasTheBody(t *testing.T) {
	for _, model := range []string{"gpt-a", "a-model-name-longer-than-the-thirty-two-byte-buffer"} {
		e := newEntry(RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil }), nil)
		body := []byte(`{"model":"` + model + `","messages":[]}`)
		c, ctx, err := e.begin(context.Background(), OpChat, body, time.Now())
		require.NoError(t, err)
		b := OutboundFrom(ctx).Body
		copy(b[len(`{"model":"`):], "XXXXX")
		assert.Equal(t, model, c.Model)
	}
}
