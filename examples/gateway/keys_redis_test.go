package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisForTest returns the test Redis's address (GATEWAY_REDIS_ADDR,
// default 127.0.0.1:6379) and a key prefix of this test's own, whose keys
// it deletes at the end. It skips the test when Redis is unreachable, and
// fails it instead under GATEWAY_REQUIRE_SERVICES=1.
func redisForTest(t *testing.T) (addr, prefix string) {
	t.Helper()
	addr = os.Getenv("GATEWAY_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		if os.Getenv("GATEWAY_REQUIRE_SERVICES") == "1" {
			t.Fatalf("redis at %s unreachable and GATEWAY_REQUIRE_SERVICES=1: %v", addr, err)
		}
		t.Skipf("redis at %s unreachable (set GATEWAY_REDIS_ADDR): %v", addr, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix = "llmgate:test:mainjob:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return addr, prefix
}
