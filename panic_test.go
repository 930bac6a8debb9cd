package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// A layer below the entry point that panics (a provider's bug) still ends
// the call: its OnEnd hooks (the Meter's record, the limiter's release) and
// its observers run, with a 500, and the panic goes on to net/http, which
// reports it. A call left open would hold them forever.
func TestAPanicInTheChainEndsTheCall(t *testing.T) {
	p := &fakeProvider{handle: func(*http.Request) (*http.Response, error) { panic("provider bug") }}
	o := newObserved(t)
	srv := httptest.NewUnstartedServer(gateway.NewHandler(p, gateway.WithObserver(o.observe)))
	srv.Config.ErrorLog = quietLog()
	srv.Start()
	defer srv.Close()
	_, err := srv.Client().Post(srv.URL+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m","messages":[]}`))
	require.Error(t, err, "net/http aborts the response of a handler that panicked")
	status, cerr := o.only().Result()
	assert.Equal(t, http.StatusInternalServerError, status)
	assert.ErrorIs(t, cerr, gateway.ErrInternal)
}
