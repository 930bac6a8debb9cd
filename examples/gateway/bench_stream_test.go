package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/config"
)

// benchStreamChunks is gwbench's mock stream: 20 content chunks, a usage
// chunk and [DONE], here the first alone and the rest 0.5 ms later at once.
var benchStreamChunks = func() []string {
	var out []string
	for i := range 20 {
		out = append(out, fmt.Sprintf(`data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1763856000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"word%d "},"finish_reason":null}]}`+"\n\n", i))
	}
	out = append(out, `data: {"id":"chatcmpl-b","object":"chat.completion.chunk","created":1763856000,"model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":56,"completion_tokens":20,"total_tokens":76}}`+"\n\n", "data: [DONE]\n\n")
	return out
}()

var benchStreamBody = []byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello."}],"max_tokens":64}`)

// BenchmarkMainJobStream measures a stream on loopback, as
// BenchmarkMainJob measures a call: direct, through a stock
// httputil.ReverseProxy, and through the main job's default chain. Its
// ttfb-ns/op is the time to the stream's first body byte (gwbench's TTFB);
// what a gateway adds is its figure minus direct's.
func BenchmarkMainJobStream(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i, c := range benchStreamChunks {
			_, _ = io.WriteString(w, c)
			f.Flush()
			if i == 0 {
				// As gwbench's mock, whose chunks are 5 ms apart: the
				// first event reaches a gateway alone, so what its first
				// byte costs is one event's work, not the whole stream's.
				time.Sleep(500 * time.Microsecond)
			}
		}
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	rp.BufferPool = &bufferPool{}
	// As gwbench's proxy: full duplex, or net/http closes the inbound body
	// once the headers are written and the stock proxy cuts about one
	// stream in 200 (golang/go#40747).
	rpSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).EnableFullDuplex()
		rp.ServeHTTP(w, r)
	}))
	defer rpSrv.Close()

	f, err := config.Parse("bench.yaml", []byte(`providers: [{name: up, type: openai, base_url: "`+up.URL+`/v1", api_key: sk-up}]`+"\n"),
		func(string) (string, bool) { return "", false })
	require.NoError(b, err)
	logger, closeLogs := config.NewLogger(io.Discard, f.Logging)
	defer func() { _ = closeLogs() }()
	gw, err := config.Build(f, config.Options{Logger: logger, UsageFile: usageFile})
	require.NoError(b, err)
	defer gw.Close()
	gwSrv := httptest.NewServer(gw.Handler())
	defer gwSrv.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, tt := range []struct{ name, url string }{{"direct", up.URL}, {"reverseproxy", rpSrv.URL}, {"mainjob", gwSrv.URL}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			var ttfb time.Duration
			for b.Loop() {
				ttfb += streamBench(b, client, tt.url)
			}
			b.ReportMetric(float64(ttfb)/float64(b.N), "ttfb-ns/op")
		})
	}
}

// streamBench sends one stream to base, reads it to [DONE], and returns the
// time to its first body byte.
func streamBench(b *testing.B, client *http.Client, base string) time.Duration {
	start := time.Now()
	resp, err := client.Post(base+"/v1/chat/completions", "application/json", bytes.NewReader(benchStreamBody))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.Peek(1); err != nil {
		b.Fatal(err)
	}
	ttfb := time.Since(start)
	rest, _ := io.ReadAll(br)
	if resp.StatusCode != 200 || !strings.Contains(string(rest), "[DONE]") {
		b.Fatalf("status %d, %q", resp.StatusCode, rest)
	}
	return ttfb
}
