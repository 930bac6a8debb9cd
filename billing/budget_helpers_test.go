package billing_test

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway/internal/servicetest"
)

// redisForTest returns a client of the test Redis and a key prefix unique
// to this test (servicetest.Redis).
func redisForTest(t *testing.T) (*redis.Client, string) {
	t.Helper()
	return servicetest.Redis(t, &redis.Options{MaxRetries: -1}, "billing")
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
