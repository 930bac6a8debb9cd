package cache

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway/internal/servicetest"
)

// redisForTest returns a client of the test Redis and a key prefix of this
// test's own (servicetest.Redis).
func redisForTest(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	return servicetest.Redis(t, nil, "cache")
}

// newUnreachableRedis is a client of a loopback port nothing listens on.
func newUnreachableRedis() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
}
