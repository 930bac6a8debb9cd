package health_test

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
	"github.com/llmgate/gateway/health"
)

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeProber is a Provider whose HealthCheck answers from a script the test
// sets: fail, pass, or hang until its context ends.
type fakeProber struct {
	name string

	mu     sync.Mutex
	fail   bool
	hang   bool
	calls  int
	called chan struct{} // one value per HealthCheck started
	ended  []error       // the context error each hung probe saw
}

func newFakeProber(name string) *fakeProber {
	return &fakeProber{name: name, called: make(chan struct{}, 1024)}
}

func (f *fakeProber) Name() string { return f.name }
func (f *fakeProber) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("fakeProber: not for calls")
}

func (f *fakeProber) set(fail, hang bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail, f.hang = fail, hang
}

func (f *fakeProber) HealthCheck(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	fail, hang := f.fail, f.hang
	f.mu.Unlock()
	f.called <- struct{}{}
	if hang {
		<-ctx.Done()
		f.mu.Lock()
		f.ended = append(f.ended, ctx.Err())
		f.mu.Unlock()
		return ctx.Err()
	}
	if fail {
		return errors.New("upstream down")
	}
	return nil
}

// change is one OnChange call.
type change struct {
	target  string
	healthy bool
	err     error
}

// changes records OnChange calls.
type changes struct {
	mu  sync.Mutex
	got []change
}

func (c *changes) on(target string, healthy bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, change{target, healthy, err})
}

func (c *changes) list() []change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]change(nil), c.got...)
}

// probesOf returns the Probes count of the target named name, 0 if it is
// not probed.
func probesOf(c *health.Checker, name string) uint64 {
	for _, s := range c.Status() {
		if s.Name == name {
			return s.Probes
		}
	}
	return 0
}

// step lets the probe of the one target named name run (cfg must set
// Interval and Jitter, which step reads): it waits for the
// loop to sleep on clk, moves clk past the longest wait, and returns once
// the probe's outcome is recorded and the loop sleeps again. Real time only
// bounds the wait, should the loop never get there.
func step(t *testing.T, clk *gatewaytest.Clock, c *health.Checker, name string, cfg health.Config) {
	t.Helper()
	before := probesOf(c, name)
	clk.BlockUntil(1)
	clk.Advance(time.Duration(float64(cfg.Interval) * (1 + cfg.Jitter)))
	waitFor(t, func() bool { return probesOf(c, name) > before })
	clk.BlockUntil(1)
}

// waitFor polls cond until it holds, failing the test after ten seconds of
// real time (a bound, never the thing tested).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; !cond(); i++ {
		if time.Now().After(deadline) {
			require.FailNow(t, "condition never held")
		}
		if i < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(100 * time.Microsecond)
		}
	}
}
