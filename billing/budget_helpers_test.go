package billing_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisForTest returns a client of the test Redis (GATEWAY_REDIS_ADDR,
// default 127.0.0.1:6379) and a key prefix unique to this test, whose keys
// are deleted when it ends. It skips the test when Redis is unreachable,
// and fails it instead when GATEWAY_REQUIRE_SERVICES=1.
func redisForTest(t *testing.T) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("GATEWAY_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("GATEWAY_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis at %s is required (GATEWAY_REQUIRE_SERVICES=1): %v", addr, err)
		}
		t.Skipf("Redis at %s unreachable: %v", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "{billing-test-" + hex.EncodeToString(b[:]) + "}:"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

// newRedisClient opens another client of the test Redis, as another
// gateway instance (or a restarted one) would.
func newRedisClient(t *testing.T, like *redis.Client) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: like.Options().Addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// gate is a Provider that holds every call until released, so that calls
// are in flight together.
type gate struct {
	canned
	arrived chan struct{}
	release chan struct{}
}

func newGate(body string) *gate {
	return &gate{canned: canned{name: "up", body: body}, arrived: make(chan struct{}, 1024), release: make(chan struct{})}
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-req.Context().Done():
		req.Body.Close()
		return nil, req.Context().Err()
	}
	return g.canned.RoundTrip(req)
}
