package billing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
	"github.com/llmgate/gateway/gatewaytest"
)

type discard struct{}

func (discard) Enqueue(billing.Record) error { return nil }

type benchBody struct{ bytes.Reader }

func (*benchBody) Close() error { return nil }

// BenchmarkMeter measures what the Meter adds to a call in client mode:
// "chain" is the entry point over a Sim with no middleware, "meter" adds
// the Meter (a record, priced, handed to a Recorder that drops it), and
// "meter+budget" also holds and settles a key's budget in a LocalBudgets.
// Compare the three in one run.
func BenchmarkMeter(b *testing.B) {
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	body := []byte(`{"model":"gpt-4o-mini","max_tokens":16,"messages":[{"role":"user","content":"Say something terse about the weather today."}]}`)
	plain, err := billing.NewMeter(discard{}, billing.MeterConfig{})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mws    []gateway.Middleware
		caller gateway.Caller
	}{
		{"chain", nil, gateway.Caller{KeyID: "k1"}},
		{"meter", []gateway.Middleware{plain.Middleware()}, gateway.Caller{KeyID: "k1"}},
		{"meter+budget", []gateway.Middleware{plain.Middleware()}, gateway.Caller{KeyID: "k1", Budget: gateway.Budget{Limit: 1 << 62}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			tr := gateway.NewClient(gateway.Chain(sim, tc.mws...)).Transport
			ctx := gateway.WithCaller(context.Background(), tc.caller)
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://sim/v1/chat/completions", nil)
			req.ContentLength = int64(len(body))
			rb := &benchBody{}
			b.ReportAllocs()
			for b.Loop() {
				rb.Reset(body)
				req.Body = rb
				resp, err := tr.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
