package gateway_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// firstRead tells ch when its body is first read: the handler has made the
// buffer it reads into by then.
type firstRead struct {
	io.ReadCloser
	once sync.Once
	ch   chan<- struct{}
}

func (f *firstRead) Read(p []byte) (int, error) {
	f.once.Do(func() { f.ch <- struct{}{} })
	return f.ReadCloser.Read(p)
}

// A request whose headers announce a large body holds only a small buffer
// until the body's bytes arrive. The handler allocated the whole
// Content-Length (up to 10 MiB) as soon as the headers came: 100 sockets
// that sent only headers took the main job from 14 MB to 805 MB.
func TestHandlerAllocatesNoBodyBeforeItArrives(t *testing.T) {
	const conns = 20
	entered := make(chan struct{}, conns)
	h := gateway.NewHandler(okProvider())
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = &firstRead{ReadCloser: r.Body, ch: entered}
		h.ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = quietLog()
	srv.Start()
	defer srv.Close()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range conns {
		c := rawDial(t, srv.Listener.Addr().String())
		defer c.Close() // before srv.Close, which waits for the handlers
		_, err := io.WriteString(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"+
			"Content-Length: "+strconv.Itoa(10<<20)+"\r\n\r\n")
		require.NoError(t, err)
	}
	for i := range conns {
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d handlers reading their body", i, conns)
		}
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(conns)<<20, "%d header-only requests allocated %d bytes", conns, allocated)
}
