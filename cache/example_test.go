package cache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
	"github.com/llmgate/gateway/gatewaytest"
)

// keyStore is a tiny store: a Loader, and a KeySource so the cache can
// build its Bloom filter.
type keyStore map[string]string

func (s keyStore) Load(_ context.Context, key string) (string, error) {
	if v, ok := s[key]; ok {
		return v, nil
	}
	return "", cache.ErrNotFound
}

func (s keyStore) Keys(_ context.Context, fn func(string) error) error {
	for k := range s {
		if err := fn(k); err != nil {
			return err
		}
	}
	return nil
}

func ExampleNew() {
	store := keyStore{"digest-of-key-1": "tenant-a"}
	c, err := cache.New[string, string](store, cache.Config{})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx := context.Background()

	tenant, _ := c.Get(ctx, "digest-of-key-1")
	fmt.Println(tenant)
	_, err = c.Get(ctx, "digest-of-an-unknown-key")
	fmt.Println(errors.Is(err, cache.ErrNotFound), c.Stats().Rejected)

	store["digest-of-key-2"] = "tenant-b" // a key created…
	_ = c.Added(ctx, "digest-of-key-2")   // …is admitted at once
	tenant, _ = c.Get(ctx, "digest-of-key-2")
	fmt.Println(tenant)
	// Output:
	// tenant-a
	// true 1
	// tenant-b
}

func ExampleResponseCache_Middleware() {
	rc, err := cache.NewResponseCache(cache.ResponseConfig{})
	if err != nil {
		panic(err)
	}
	sim := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	client := gateway.NewClient(gateway.Chain(sim, rc.Middleware()))

	for range 2 {
		body := `{"model":"gpt-4o-mini","temperature":0,"messages":[{"role":"user","content":"hi"}]}`
		resp, err := client.Post("http://gateway.invalid/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get(cache.HeaderCacheStatus))
	}
	fmt.Println("upstream calls:", sim.Requests())
	// Output:
	// 200 miss
	// 200 hit
	// upstream calls: 1
}
