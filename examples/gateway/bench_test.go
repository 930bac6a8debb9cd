package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/config"
)

// benchCompletion is a 1.3 KB chat.completion with usage, the size of
// gwbench's mock answer.
var benchCompletion = []byte(`{"id":"chatcmpl-bench0001","object":"chat.completion","created":1763856000,"model":"gpt-4o-mini-2024-07-18",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("A gateway sits between applications and providers. ", 15) +
	`","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":56,"completion_tokens":148,"total_tokens":204,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},` +
	`"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},` +
	`"service_tier":"default","system_fingerprint":"fp_bench01"}`)

// BenchmarkMainJob measures a non-streaming chat call on loopback through
// the main job as its configuration builds it (default chain: Retry, the
// router, a circuit breaker and Timeouts per target, the access log as run
// writes it, the metrics on), next to the same call sent straight to the
// upstream ("direct") and through a stock httputil.ReverseProxy
// ("reverseproxy"); "nometrics" is the main job with metrics.disable, and
// "traced" the main job with a tracing endpoint and sample_ratio 0 (calls
// with no traceparent are not sampled: nothing is exported).
// What the main job adds is its ns/op minus direct's; its allocs/op are the
// whole process's for the call, both sides of the sockets included, as are
// the others'.
func BenchmarkMainJob(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(benchCompletion)
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	rp.BufferPool = &bufferPool{}
	rpSrv := httptest.NewServer(rp)
	defer rpSrv.Close()

	mainJob := func(extra string) string {
		f, err := config.Parse("bench.yaml", []byte(`providers: [{name: up, type: openai, base_url: "`+up.URL+`/v1", api_key: sk-up}]`+"\n"+extra),
			func(string) (string, bool) { return "", false })
		require.NoError(b, err)
		logger, closeLogs := config.NewLogger(io.Discard, f.Logging)
		b.Cleanup(func() { _ = closeLogs() })
		gw, err := config.Build(f, config.Options{Logger: logger, UsageFile: usageFile})
		require.NoError(b, err)
		b.Cleanup(gw.Close)
		gwSrv := httptest.NewServer(gw.Handler())
		b.Cleanup(gwSrv.Close)
		return gwSrv.URL
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, tt := range []struct{ name, url string }{{"direct", up.URL}, {"reverseproxy", rpSrv.URL}, {"mainjob", mainJob("")},
		{"nometrics", mainJob("metrics: {disable: true}")}, {"traced", mainJob("tracing: {endpoint: 127.0.0.1:1, sample_ratio: 0}")}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				postBench(b, client, tt.url)
			}
		})
		// closed16 is gwbench's closed loop: 16 callers at once, each
		// sending its next call when the last has been read. Its ns/op is
		// the inverse of throughput, so reverseproxy's ns/op over
		// mainjob's is the main job's share of the stock proxy's
		// throughput.
		b.Run(tt.name+"/closed16", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					postBench(b, client, tt.url)
				}
			})
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

var benchChat = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello."}],"max_tokens":64}`)

// processCPU returns the CPU time this process has used, user and system.
// Per call it is what a gateway costs on a machine whose cores the load
// generator and the upstream share with it (gwbench's), and it is less
// disturbed by other processes than ns/op.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postBench sends one chat call to base and reads its whole answer.
func postBench(b *testing.B, client *http.Client, base string) {
	resp, err := client.Post(base+"/v1/chat/completions", "application/json", bytes.NewReader(benchChat))
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || n != int64(len(benchCompletion)) {
		b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
	}
}

// bufferPool is a ReverseProxy's 32 KiB copy buffers, pooled as gwbench's
// proxy pools them.
type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }
