package provider_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/sse"
	"github.com/llmgate/gateway/provider"
)

// guard bounds a wait that only a broken implementation would make long, so
// that a regression fails instead of hanging; no result depends on it.
const guard = 20 * time.Second

const streamBody = `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"Say hello"}]}`

func readEvents(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	sr := sse.NewReader(r, 0)
	for range 1000 { // far more events than any stream here sends
		ev, err := sr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		out = append(out, string(ev.Data))
	}
	t.Fatal("the stream never ended")
	return nil
}

func TestOpenAI_StreamForcesUsageAndStripsIt(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1", APIKey: "sk-upstream-key"})
	var cc callCapture
	client := gateway.NewClient(gateway.Chain(p, cc.Middleware))

	resp := oaiPost(t, client, "/v1/chat/completions", streamBody)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events := readEvents(t, resp.Body)
	require.NoError(t, resp.Body.Close())

	seen := up.Last(t)
	f := oaiFields(t, seen.Body)
	require.NotNil(t, f.StreamOptions, "the upstream is asked for usage")
	assert.True(t, *f.StreamOptions.IncludeUsage)
	assert.Equal(t, "text/event-stream", seen.Header.Get("Accept"))
	assert.Equal(t, "identity", seen.Header.Get("Accept-Encoding"))

	want := append(oaiStreamEvents("gpt-4.1", false), "[DONE]")
	assert.Equal(t, want, events, "the caller does not see the usage-only chunk it did not ask for")

	call := cc.Call()
	require.NotNil(t, call)
	u, ok := call.Usage()
	require.True(t, ok)
	assert.Equal(t, gateway.Usage{PromptTokens: 9, CompletionTokens: 2}, u, "usage comes from the upstream, not an estimate")
}

func TestOpenAI_StreamCallerAskedForUsage(t *testing.T) {
	up := newOAIUpstream(t, nil)
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"})
	body := `{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	resp := oaiPost(t, gateway.NewClient(p), "/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	events := readEvents(t, resp.Body)
	assert.Equal(t, body, string(up.Last(t).Body), "the body goes unchanged")
	assert.Equal(t, append(oaiStreamEvents("gpt-4.1", true), "[DONE]"), events)
}

// The upstream sends one event, then waits until the caller has read it
// before sending the next: a buffering provider would deadlock here.
func TestOpenAI_StreamIsNotBuffered(t *testing.T) {
	const n = 5
	next := make(chan struct{})
	up := newOAIUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range n {
			fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"tok%d\"}}]}\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"})
	handler := httptest.NewServer(gateway.NewHandler(p))
	defer handler.Close()

	for _, mode := range []struct {
		name string
		do   func(t *testing.T, ctx context.Context) (*http.Response, error)
	}{
		{"provider", func(t *testing.T, ctx context.Context) (*http.Response, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(streamBody))
			return p.RoundTrip(withCall(t, req))
		}},
		{"client", func(_ *testing.T, ctx context.Context) (*http.Response, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(streamBody))
			return gateway.NewClient(p).Do(req)
		}},
		{"server", func(_ *testing.T, ctx context.Context) (*http.Response, error) {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, handler.URL+"/v1/chat/completions", strings.NewReader(streamBody))
			return handler.Client().Do(req)
		}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), guard)
			defer cancel()
			resp, err := mode.do(t, ctx)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			sr := sse.NewReader(resp.Body, 0)
			for i := range n {
				ev, err := sr.Next()
				require.NoError(t, err, "event %d never arrived alone: the stream is buffered", i)
				assert.Contains(t, string(ev.Data), fmt.Sprintf("tok%d", i))
				next <- struct{}{}
			}
			ev, err := sr.Next()
			require.NoError(t, err)
			assert.True(t, ev.IsDone())
		})
	}
}

func TestOpenAI_CallerCancelAbortsUpstream(t *testing.T) {
	arrived, aborted := make(chan struct{}, 1), make(chan struct{}, 1)
	up := newOAIUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		arrived <- struct{}{}
		<-r.Context().Done()
		aborted <- struct{}{}
	})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(chatBody))
		resp, err := gateway.NewClient(p).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	waitFor(t, arrived, "the request never reached the upstream")
	cancel()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, context.Canceled)
	case <-time.After(guard):
		t.Fatal("the call did not return after cancellation")
	}
	waitFor(t, aborted, "the upstream request was not aborted")
}

func TestOpenAI_CallerCancelMidStreamAbortsUpstream(t *testing.T) {
	aborted := make(chan struct{}, 1)
	up := newOAIUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		aborted <- struct{}{}
	})
	p := newTestOpenAI(t, provider.OpenAIConfig{BaseURL: up.URL + "/v1"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", strings.NewReader(streamBody))
	require.NoError(t, err)
	resp, err := gateway.NewClient(p).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	sr := sse.NewReader(resp.Body, 0)
	ev, err := sr.Next()
	require.NoError(t, err)
	assert.Contains(t, string(ev.Data), "first")

	cancel()
	_, err = sr.Next()
	require.ErrorIs(t, err, context.Canceled, "a read after cancellation fails, no fake [DONE]")
	waitFor(t, aborted, "the upstream stream was not aborted")
}

func waitFor(t *testing.T, ch <-chan struct{}, msg string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatal(msg)
	}
}
