package main

import (
	"context"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.uber.org/goleak"

	"github.com/llmgate/gateway/internal/syncbuf"
)

// TestMain checks that no test leaves a goroutine behind: run, the server,
// the providers' transports and the SDK clients all end with their test.
func TestMain(m *testing.M) {
	runChildIfAsked() // billing_process_test.go: the test binary as the main job
	goleak.VerifyTestMain(m)
}

// syncBuffer collects what a gateway writes and signals each write
// (internal/syncbuf).
type syncBuffer = syncbuf.Buffer

func newSyncBuffer() *syncBuffer { return syncbuf.New() }

// runningGateway is run() serving in the background.
type runningGateway struct {
	base           string // http://127.0.0.1:PORT
	key            string // the demo key the banner printed, if any
	stdout, stderr *syncBuffer
	stop           func() int // cancels run's context and returns its exit status
}

var (
	listeningLine = regexp.MustCompile(`listening on (http://\S+)\n`)
	demoKeyLine   = regexp.MustCompile(`\nkey: (\S+) \(id demo`)
)

// startGateway calls run(args) and waits until it has printed the address it
// listens on. The test's cleanup stops it.
func startGateway(t *testing.T, args ...string) *runningGateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g := &runningGateway{stdout: newSyncBuffer(), stderr: newSyncBuffer()}
	done := make(chan int, 1)
	go func() { done <- run(ctx, args, g.stdout, g.stderr) }()
	g.stop = sync.OnceValue(func() int { cancel(); return <-done })
	t.Cleanup(func() { g.stop() })
	safety := time.NewTimer(10 * time.Second) // only if run hangs before listening
	defer safety.Stop()
	for {
		if m := listeningLine.FindStringSubmatch(g.stdout.String()); m != nil {
			g.base = m[1]
			if k := demoKeyLine.FindStringSubmatch(g.stdout.String()); k != nil {
				g.key = k[1]
			}
			return g
		}
		select {
		case <-g.stdout.Changed():
		case code := <-done:
			done <- code
			t.Fatalf("run returned %d before listening; stderr:\n%s", code, g.stderr)
		case <-safety.C:
			t.Fatalf("run is not listening; stdout:\n%s\nstderr:\n%s", g.stdout, g.stderr)
		}
	}
}

// sdk returns an openai-go client for the gateway at base, with retries off
// (the gateway owns them) and a transport whose connections end with the test.
func sdk(t *testing.T, base, key string) openai.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return openai.NewClient(
		option.WithBaseURL(base+"/v1"),
		option.WithAPIKey(key),
		option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: tr}),
	)
}
