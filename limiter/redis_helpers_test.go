package limiter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisForTest returns a client of the shared Redis (GATEWAY_REDIS_ADDR,
// default 127.0.0.1:6379) and a key prefix of this test's own, whose keys
// are deleted at the end. It skips the test when Redis is unreachable,
// unless GATEWAY_REQUIRE_SERVICES=1, where it fails it.
func redisForTest(t testing.TB) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("GATEWAY_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := newRedisClient(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("GATEWAY_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis at %s is required (GATEWAY_REQUIRE_SERVICES=1): %v", addr, err)
		}
		t.Skipf("Redis at %s unreachable (set GATEWAY_REDIS_ADDR): %v", addr, err)
	}
	prefix := "llmgate:test:limiter:" + randomID() + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// newRedisClient is a client whose commands end with their context's
// deadline (the Limiter's RedisTimeout).
func newRedisClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, PoolSize: 16})
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
		if os.Getenv("GATEWAY_REQUIRE_SERVICES") == "1" {
			t.Fatalf("redis-server is required (GATEWAY_REQUIRE_SERVICES=1): %v", err)
		}
		t.Skipf("redis-server not installed: %v", err)
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
