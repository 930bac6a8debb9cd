package provider_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// replayBody is a request body the benchmark rewinds each iteration.
type replayBody struct{ bytes.Reader }

func (*replayBody) Close() error { return nil }

// BenchmarkOpenAI_RoundTrip measures the adapter alone: building the
// upstream request (URL, headers, body) over an in-memory transport that
// reads the body and answers at once.
func BenchmarkOpenAI_RoundTrip(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	transport := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		out := *resp
		return &out, nil
	})
	msg := strings.Repeat("Tell me about the weather in Paris. ", 25)
	for _, bc := range []struct {
		name     string
		body     string
		withCall bool
		cfg      provider.OpenAIConfig
	}{
		{"call", `{"model":"gpt-4.1","messages":[{"role":"user","content":"` + msg + `"}]}`, true, provider.OpenAIConfig{}},
		{"call-renamed", `{"model":"gpt-4.1","messages":[{"role":"user","content":"` + msg + `"}]}`, true,
			provider.OpenAIConfig{ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14"}}},
		{"call-stream", `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"` + msg + `"}]}`, true, provider.OpenAIConfig{}},
		{"call-azure", `{"model":"gpt-4.1","messages":[{"role":"user","content":"` + msg + `"}]}`, true,
			provider.OpenAIConfig{Azure: &provider.AzureConfig{APIVersion: "2024-10-21"}}},
		{"no-call", `{"model":"gpt-4.1","messages":[{"role":"user","content":"` + msg + `"}]}`, false, provider.OpenAIConfig{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			cfg.BaseURL, cfg.APIKey, cfg.Transport = "https://api.example.invalid/v1", "sk-bench", transport
			p, err := provider.NewOpenAI(cfg)
			require.NoError(b, err)
			body := []byte(bc.body)
			ctx := context.Background()
			if bc.withCall {
				c, err := gateway.ParseCall(gateway.OpChat, body, gateway.Limits{})
				require.NoError(b, err)
				ctx = gateway.WithCall(ctx, c)
			}
			rb := &replayBody{}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://gateway.invalid/v1/chat/completions", rb)
			require.NoError(b, err)
			req.ContentLength = int64(len(body))
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				rb.Reset(body)
				resp, err := p.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
