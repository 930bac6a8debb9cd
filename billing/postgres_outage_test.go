package billing

import (
	"context"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/servicetest"
)

// switchProxy forwards 127.0.0.1 connections to a backend until it is cut:
// then it closes every connection and refuses new ones, until restored.
type switchProxy struct {
	ln      net.Listener
	backend string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func newSwitchProxy(t *testing.T, backend string) *switchProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &switchProxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *switchProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		b, err := net.Dial("tcp", p.backend)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[b] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { io.Copy(b, c); b.Close(); c.Close() })
		p.wg.Go(func() { io.Copy(c, b); b.Close(); c.Close() })
	}
}

func (p *switchProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *switchProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// Issue 11: the ledger's PostgreSQL unreachable for a while (its
// connections cut, new ones refused) and back: nothing lost, nothing
// dead-lettered, nothing stored twice.
func TestPipelinePostgresUnreachableAndBackLosesNothing(t *testing.T) {
	direct, cfg := postgresForTest(t)
	dsn := servicetest.PostgresDSN()
	pc, err := pgxpool.ParseConfig(dsn)
	require.NoError(t, err)
	proxy := newSwitchProxy(t, net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port))))
	pc.ConnConfig.Host, pc.ConnConfig.Port = "127.0.0.1", uint16(proxy.ln.Addr().(*net.TCPAddr).Port)
	pc.ConnConfig.ConnectTimeout = time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	require.NoError(t, err)
	defer pool.Close()
	pg, err := NewPostgres(context.Background(), pool, cfg)
	require.NoError(t, err)

	p := startPipeline(t, PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"ledger": pg}, BatchSize: 200, RetryAttempts: 10_000}, nil)
	enqueueAll(t, p, 1000, 4)
	proxy.cut()
	enqueueRange(t, p, 1000, 3000)
	require.Eventually(t, func() bool { return p.Stats().Sinks["ledger"].Retries >= 5 }, 10*time.Second, time.Millisecond,
		"the ledger's writes fail while it is unreachable")
	proxy.restore()
	enqueueRange(t, p, 3000, 4000)
	closePipeline(t, p)

	rows, keys := ledgerCounts(t, direct, cfg)
	assert.Equal(t, 4000, rows)
	assert.Equal(t, 4000, keys)
	st := p.Stats().Sinks["ledger"]
	assert.Zero(t, st.DeadLettered)
	assert.Equal(t, uint64(4000), st.Written)
}
