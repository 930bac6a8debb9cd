package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// slowBrokenBody takes a while on the clock, then breaks.
type slowBrokenBody struct{ clk *gatewaytest.Clock }

func (b slowBrokenBody) Read([]byte) (int, error) {
	b.clk.Advance(5 * time.Second)
	return 0, io.ErrUnexpectedEOF
}

func (slowBrokenBody) Close() error { return nil }

// Regression (new-user trial): a request refused because its body broke was
// logged with the duration of the refusal alone (9 µs for a body that took
// 60 s): a call's Start is when the request arrived, before its body was
// read. A cut chunked body is named as such, not as a short Content-Length.
func TestRefusedCallStartsWhenTheRequestArrived(t *testing.T) {
	clk := gatewaytest.NewClock(time.Unix(1_700_000_000, 0))
	var got *gateway.Call
	h := gateway.NewHandler(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}), gateway.WithClock(clk),
		gateway.WithObserver(func(c *gateway.Call) { got = c }))
	arrived := clk.Now()
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Body, r.ContentLength = slowBrokenBody{clk}, -1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), "chunked")
	require.NotNil(t, got)
	assert.Equal(t, arrived, got.Start)
	status, _ := got.Result()
	assert.Equal(t, http.StatusBadRequest, status)
}

// Regression (new-user trial): an unknown path was echoed whole in the
// error message, up to the header limit: what of a caller's input a message
// repeats is bounded.
func TestUnknownPathIsEchoedBounded(t *testing.T) {
	h := gateway.NewHandler(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/"+strings.Repeat("é", 3000), nil))
	assert.Equal(t, http.StatusNotFound, w.Code)
	assert.Less(t, w.Body.Len(), 400, w.Body.String())
	assert.Contains(t, w.Body.String(), "…")
	assert.NotContains(t, w.Body.String(), "\ufffd", "cut on a rune boundary")
}
