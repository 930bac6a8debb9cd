package provider_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/provider"
)

// BenchmarkOpenAI_RoundTrip measures the adapter alone: building the
// upstream request (URL, headers, the Outbound body) over an in-memory
// transport that reads the body and answers at once. The request carries
// the Call an entry point binds (the provider never reads req.Body, so one
// request serves every iteration).
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
		name string
		body string
		cfg  provider.OpenAIConfig
	}{
		{"call", `{"model":"gpt-4.1","messages":[{"role":"user","content":"` + msg + `"}]}`, provider.OpenAIConfig{}},
		{"call-renamed", `{"model":"gpt-4.1","messages":[{"role":"user","content":"` + msg + `"}]}`,
			provider.OpenAIConfig{ModelMap: map[string]string{"gpt-4.1": "gpt-4.1-2025-04-14"}}},
		{"call-stream", `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"` + msg + `"}]}`, provider.OpenAIConfig{}},
		{"call-azure", `{"model":"gpt-4.1","messages":[{"role":"user","content":"` + msg + `"}]}`,
			provider.OpenAIConfig{Azure: &provider.AzureConfig{APIVersion: "2024-10-21"}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := bc.cfg
			cfg.BaseURL, cfg.APIKey, cfg.Transport = "https://api.example.invalid/v1", "sk-bench", transport
			p, err := provider.NewOpenAI(cfg)
			require.NoError(b, err)
			req := withCall(b, newRequest(b, context.Background(), "/v1/chat/completions", strings.NewReader(bc.body)))
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.body)))
			for b.Loop() {
				resp, err := p.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
