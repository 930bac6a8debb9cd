package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type errorJSON struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    string  `json:"code"`
	} `json:"error"`
}

func TestWriteErrorWritesOpenAIShape(t *testing.T) {
	rec := httptest.NewRecorder()
	writeError(rec, ErrNoHealthyProvider.WithRetryAfter(1200*time.Millisecond))
	assert.Equal(t, 503, rec.Code)
	assert.Equal(t, "2", rec.Header().Get("Retry-After"), "rounded up to whole seconds")
	assert.Equal(t, "1200", rec.Header().Get("Retry-After-Ms"))
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "no_healthy_provider", rec.Header().Get("X-Llmgate-Error"), "the gateway marks its own errors")
	var body errorJSON
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
	assert.Equal(t, "no_healthy_provider", body.Error.Code)
	assert.Equal(t, "service_unavailable", body.Error.Type)
	assert.Equal(t, "gateway: no healthy provider", body.Error.Message)
	assert.Nil(t, body.Error.Param)

	rec = httptest.NewRecorder()
	writeError(rec, ErrBadRequest)
	assert.Empty(t, rec.Header().Get("Retry-After"))
}

func TestErrorResponseAndErrorFromResponse(t *testing.T) {
	req := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	resp := errorResponse(req, ErrNoHealthyProvider.WithRetryAfter(3*time.Second))
	defer resp.Body.Close()
	assert.Equal(t, 503, resp.StatusCode)
	assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body errorJSON
	require.NoError(t, json.Unmarshal(b, &body))
	assert.Equal(t, "no_healthy_provider", body.Error.Code)
	assert.Same(t, ErrNoHealthyProvider, ErrorFromResponse(resp))

	// A provider's own error with the same code is not the gateway's.
	upstream := &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {"application/json"}}}
	assert.Nil(t, ErrorFromResponse(upstream))
	assert.Nil(t, ErrorFromResponse(nil))
	upstream.Header.Set("X-Llmgate-Error", "nope")
	assert.Nil(t, ErrorFromResponse(upstream), "an unknown code maps to nothing")
}

// Registered once per process, as a package's sentinels are.
var errTestOpen = newSentinel(503, "service_unavailable", "circuit_open_test", "breaker: open")

func TestNewSentinel(t *testing.T) {
	err := errTestOpen.WithMessage("breaker: open for openai")
	assert.ErrorIs(t, err, errTestOpen)
	assert.NotErrorIs(t, err, ErrNoHealthyProvider)
	assert.Equal(t, 503, ErrorFor(err).Status)
	resp := errorResponse(httptest.NewRequest("GET", "/", nil), err)
	defer resp.Body.Close()
	assert.Same(t, errTestOpen, ErrorFromResponse(resp))
	assert.Panics(t, func() { newSentinel(503, "x", "circuit_open_test", "again") })
}

// Regression: ErrorFromResponse returned a nil *Error for a provider's
// error, and errors.Is on it (the README's example) panicked.
func TestErrorFromResponseIsSafeInErrorsIs(t *testing.T) {
	upstream := &http.Response{StatusCode: 429, Header: http.Header{}}
	assert.NotPanics(t, func() {
		assert.False(t, errors.Is(ErrorFromResponse(upstream), ErrNoHealthyProvider))
	})
	var nilErr *Error
	assert.False(t, nilErr.Is(ErrNoHealthyProvider))
}
