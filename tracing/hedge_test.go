package tracing_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/breaker"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/tracing"
)

// hangsFirst is a Provider whose first request hangs until its attempt is
// cancelled and whose later ones answer at once.
type hangsFirst struct{ n atomic.Int64 }

func (*hangsFirst) Name() string { return "a" }

func (p *hangsFirst) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	if p.n.Add(1) == 1 {
		<-req.Context().Done()
		return nil, req.Context().Err()
	}
	body := `{"id":"x","object":"chat.completion","model":"gpt-4.1","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: req}, nil
}

// A hedge below the call span and above Attempt gets a span of its own,
// a sibling of the first attempt's, of kind hedge.
func TestHedgeGetsItsOwnAttemptSpan(t *testing.T) {
	tr, exp := newTracer(t, tracing.Config{})
	clk := gatewaytest.NewClock(time.Unix(1_700_000_000, 0))
	hedge, err := breaker.Hedge(breaker.HedgeConfig{Delay: time.Second, Clock: clk})
	require.NoError(t, err)
	client := gateway.NewClient(gateway.Chain(&hangsFirst{}, tr.Middleware(), hedge, tr.Attempt()), gateway.WithClock(clk))
	done := make(chan *http.Response, 1)
	go func() { done <- post(t, client, context.Background(), chatBody(false)) }()
	clk.BlockUntil(1)
	clk.Advance(time.Second)
	readClose(t, <-done)

	spans := exp.GetSpans()
	cs, as := byKind(t, spans)
	require.Len(t, as, 2)
	kinds := map[string]attribute.Value{}
	for _, a := range as {
		assert.Equal(t, cs.SpanContext.SpanID(), a.Parent.SpanID())
		kinds[attrs(a)[tracing.KeyAttemptKind].AsString()] = attrs(a)[tracing.KeyErrorType]
	}
	require.Contains(t, kinds, tracing.KindFirst)
	require.Contains(t, kinds, tracing.KindHedge)
	assert.Equal(t, "hedge_lost", kinds[tracing.KindFirst].AsString(), "the first attempt lost to its hedge")
	assert.Equal(t, attribute.IntValue(2), attrs(cs)[tracing.KeyAttempts])
}
