package main

import (
	"testing"

	"github.com/llmgate/gateway/internal/servicetest"
)

// redisForTest returns the test Redis's address and a key prefix of this
// test's own, whose keys are deleted at the end (servicetest.Redis).
func redisForTest(t *testing.T) (addr, prefix string) {
	t.Helper()
	_, prefix = servicetest.Redis(t, nil, "mainjob")
	return servicetest.RedisAddr(), prefix
}
