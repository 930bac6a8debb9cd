package gateway_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/provider"
)

// chatBody returns a chat request of about size bytes.
func chatBody(size int) []byte {
	const head = `{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"`
	const tail = `"}],"temperature":0.2}`
	return []byte(head + strings.Repeat("lorem ipsum ", (size-len(head)-len(tail))/12) + tail)
}

var benchSizes = []struct {
	name string
	size int
}{{"1KB", 1 << 10}, {"100KB", 100 << 10}}

type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// BenchmarkChain measures what the client-mode entry point adds: reading the
// body, parsing the Call, binding it, the attempt boundary and tapping usage.
// "direct" calls Sim with a Call made once outside the loop; "entry" goes
// through NewClient's transport over an empty chain. The difference is the
// entry point's cost.
func BenchmarkChain(b *testing.B) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	for _, sz := range benchSizes {
		body := chatBody(sz.size)
		b.Run(sz.name+"/direct", func(b *testing.B) {
			ctx := callContext(b, body)
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://sim/v1/chat/completions", nil)
			rb := &benchBody{}
			b.ReportAllocs()
			for b.Loop() {
				rb.Reset(body)
				req.Body = rb
				resp, err := sim.RoundTrip(req)
				drain(b, resp, err)
			}
		})
		b.Run(sz.name+"/entry", func(b *testing.B) {
			tr := gateway.NewClient(gateway.Chain(sim)).Transport
			req, _ := http.NewRequest("POST", "http://sim/v1/chat/completions", nil)
			req.ContentLength = int64(len(body))
			rb := &benchBody{}
			b.ReportAllocs()
			for b.Loop() {
				rb.Reset(body)
				req.Body = rb
				resp, err := tr.RoundTrip(req)
				drain(b, resp, err)
			}
		})
	}
}

// callContext returns the context of a request for body as the entry point
// made it, with its Call and Outbound.
func callContext(b *testing.B, body []byte) context.Context {
	var ctx context.Context
	capture := gateway.RoundTripperFunc(func(r *http.Request) (*http.Response, error) {
		ctx = r.Context()
		return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
	})
	resp, err := gateway.NewClient(capture).Post("http://sim/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	return ctx
}

func drain(b *testing.B, resp *http.Response, err error) {
	if err != nil {
		b.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// BenchmarkHandler measures the latency a proxy adds on loopback over the
// same upstream (gatewaytest serving Sim): "direct" calls the upstream,
// "reverseproxy" goes through a stock httputil.ReverseProxy with a buffer
// pool, "gateway" through NewHandler over provider.OpenAI. Added latency is a
// proxy's ns/op minus direct's; compare gateway's with reverseproxy's.
func BenchmarkHandler(b *testing.B) {
	upstream := gatewaytest.NewServer(gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{}))
	defer upstream.Close()
	target, _ := url.Parse(upstream.URL)

	rp := httputil.NewSingleHostReverseProxy(target)
	rp.BufferPool = &bufferPool{}
	rp.Transport = benchTransport()
	rpSrv := httptest.NewServer(rp)
	defer rpSrv.Close()

	oai, err := provider.NewOpenAI(provider.OpenAIConfig{Name: "up", BaseURL: upstream.URL + "/v1", APIKey: "k", Transport: benchTransport()})
	if err != nil {
		b.Fatal(err)
	}
	gwSrv := httptest.NewServer(gateway.NewHandler(oai))
	defer gwSrv.Close()

	body := chatBody(1 << 10)
	client := &http.Client{Transport: benchTransport()}
	for _, tt := range []struct{ name, url string }{
		{"direct", upstream.URL}, {"reverseproxy", rpSrv.URL}, {"gateway", gwSrv.URL},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Post(tt.url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
				drain(b, resp, err)
			}
		})
	}
}

func benchTransport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 64, ForceAttemptHTTP2: false}
}

type bufferPool struct{ p sync.Pool }

func (bp *bufferPool) Get() []byte {
	if b, ok := bp.p.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }
