package limiter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/internal/servicetest"
)

// redisForTest returns a client of the shared test Redis, made as the
// limiter's are (newRedisClient), and a key prefix of this test's own
// (servicetest.Redis).
func redisForTest(t testing.TB) (*redis.Client, string) {
	t.Helper()
	return servicetest.Redis(t, redisOptions(), "limiter")
}

// newRedisClient is a client whose commands end with their context's
// deadline (the Limiter's RedisTimeout).
func newRedisClient(addr string) *redis.Client {
	o := redisOptions()
	o.Addr = addr
	return redis.NewClient(o)
}

func redisOptions() *redis.Options {
	return &redis.Options{ContextTimeoutEnabled: true, MaxRetries: -1, DialTimeout: 200 * time.Millisecond, PoolSize: 16}
}

func randomID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ownRedis is a redis-server this test started on a free port of its own,
// so that it can stop, freeze and restart it without touching anyone
// else's. Only its PID is ever signalled.
type ownRedis struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startOwnRedis(t *testing.T) *ownRedis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		servicetest.Unavailable(t, "redis-server (not installed)", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &ownRedis{t: t, port: port}
	r.start(bin)
	t.Cleanup(r.stop)
	return r
}

func (r *ownRedis) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *ownRedis) start(bin string) {
	r.t.Helper()
	if bin == "" {
		bin, _ = exec.LookPath("redis-server")
	}
	r.cmd = exec.Command(bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	require.NoError(r.t, r.cmd.Start())
	c := newRedisClient(r.addr())
	defer c.Close()
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		require.Less(r.t, i, 100, "redis-server on port %d did not start: %v", r.port, err)
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills this test's redis-server, by its PID, and reaps it.
func (r *ownRedis) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a frozen one cannot die otherwise
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// freeze and thaw stop and resume the server without closing its socket:
// commands hang, as with a Redis that is overloaded or cut off.
func (r *ownRedis) freeze() { require.NoError(r.t, r.cmd.Process.Signal(syscall.SIGSTOP)) }
func (r *ownRedis) thaw()   { require.NoError(r.t, r.cmd.Process.Signal(syscall.SIGCONT)) }
