package config

import (
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/cache"
)

// responseCacheConf is the response cache (cache.ResponseCache), off unless
// enable is set. README.md, "Configuration", documents each key.
type responseCacheConf struct {
	Enable         bool          `yaml:"enable"`
	TTL            time.Duration `yaml:"ttl"`
	MaxBytes       int64         `yaml:"max_bytes"`
	MaxAnswerBytes int64         `yaml:"max_answer_bytes"`
	MaxAnswers     int           `yaml:"max_answers"`
}

// responseCache returns the response cache's middleware, the handler
// options it needs (its status header passed to callers) and the cache
// itself (for the metrics), or nothing when it is not enabled; its keys are
// checked either way.
func (c *checker) responseCache(r responseCacheConf) (gateway.Middleware, []gateway.Option, *cache.ResponseCache) {
	cfg := cache.ResponseConfig{
		TTL:            positive(c, "response_cache.ttl", r.TTL),
		MaxBytes:       positive(c, "response_cache.max_bytes", r.MaxBytes),
		MaxAnswerBytes: positive(c, "response_cache.max_answer_bytes", r.MaxAnswerBytes),
		MaxAnswers:     positive(c, "response_cache.max_answers", r.MaxAnswers),
	}
	rc, err := cache.NewResponseCache(cfg)
	if !c.lib("response_cache", err) || !r.Enable {
		return nil, nil, nil
	}
	return rc.Middleware(), []gateway.Option{gateway.WithResponseHeaders(cache.HeaderCacheStatus)}, rc
}
