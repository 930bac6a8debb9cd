package cache

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway"
)

// The defaults a zero field of Config or Rules takes, each defined once.
const (
	DefaultTTL               = time.Minute
	DefaultJitter            = 0.1
	DefaultNegativeTTL       = 10 * time.Second
	DefaultSize              = 1 << 16
	DefaultNegativeSize      = 1 << 12
	DefaultShards            = 64
	DefaultExpectedKeys      = 1 << 16
	DefaultFalsePositiveRate = 1e-6
	DefaultRebuildEvery      = 10 * time.Minute
	DefaultLoadTimeout       = 5 * time.Second
	DefaultRedisPrefix       = "llmgate:cache:"
)

// Rules say what the cache keeps and for how long. They can be replaced
// while the cache serves (Cache.SetRules). A zero field takes its default; a
// negative one is an error.
type Rules struct {
	// Off keeps nothing: every Get loads (concurrent misses of one key
	// still share one load), and nothing is cached as not found.
	Off bool
	// TTL is how long a loaded value is fresh (DefaultTTL).
	TTL time.Duration
	// Jitter shortens each entry's TTL by a random fraction of it in
	// [0, Jitter), so that values loaded together do not expire together.
	// It must be below 1 (DefaultJitter).
	Jitter float64
	// StaleFor is how long after its TTL a value is still served while one
	// background refresh runs (stale-while-revalidate). Default: TTL.
	StaleFor time.Duration
	// NegativeTTL is how long a key the loader did not find is answered
	// ErrNotFound without asking again (DefaultNegativeTTL).
	NegativeTTL time.Duration
	// Size bounds the values kept, rounded up to a multiple of the shard
	// count (DefaultSize); NegativeSize bounds the not-found answers kept
	// (DefaultNegativeSize). The least recently used go first.
	Size         int
	NegativeSize int
}

// Validate reports every bad field, joined.
func (r Rules) Validate() error {
	var errs []error
	if r.TTL < 0 {
		errs = append(errs, fmt.Errorf("cache: Rules.TTL %v is negative", r.TTL))
	}
	if r.Jitter < 0 || r.Jitter >= 1 {
		errs = append(errs, fmt.Errorf("cache: Rules.Jitter %v is outside [0, 1)", r.Jitter))
	}
	if r.StaleFor < 0 {
		errs = append(errs, fmt.Errorf("cache: Rules.StaleFor %v is negative", r.StaleFor))
	}
	if r.NegativeTTL < 0 {
		errs = append(errs, fmt.Errorf("cache: Rules.NegativeTTL %v is negative", r.NegativeTTL))
	}
	if r.Size < 0 {
		errs = append(errs, fmt.Errorf("cache: Rules.Size %d is negative", r.Size))
	}
	if r.NegativeSize < 0 {
		errs = append(errs, fmt.Errorf("cache: Rules.NegativeSize %d is negative", r.NegativeSize))
	}
	return errors.Join(errs...)
}

func (r Rules) withDefaults() Rules {
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	if r.Jitter == 0 {
		r.Jitter = DefaultJitter
	}
	if r.StaleFor == 0 {
		r.StaleFor = r.TTL
	}
	if r.NegativeTTL == 0 {
		r.NegativeTTL = DefaultNegativeTTL
	}
	if r.Size == 0 {
		r.Size = DefaultSize
	}
	if r.NegativeSize == 0 {
		r.NegativeSize = DefaultNegativeSize
	}
	return r
}

// Config configures a Cache. Its zero value is a local cache with the
// default Rules; a zero field takes its default, a negative one is an
// error.
type Config struct {
	Rules Rules

	// Shards is the number of LRU shards, a power of two (DefaultShards):
	// each has its own lock, so that misses and stores on many cores do not
	// queue on one (hits take none).
	Shards int

	// ExpectedKeys sizes the Bloom filter of existing keys
	// (DefaultExpectedKeys); it grows past it as keys are added, and each
	// rebuild sizes it for twice the keys it found. FalsePositiveRate is
	// the share of absent keys it lets through at that size, in (0, 0.1]
	// (DefaultFalsePositiveRate). RebuildEvery is how often it is rebuilt
	// from the loader's KeySource, which forgets removed keys
	// (DefaultRebuildEvery). Without a KeySource there is no filter.
	ExpectedKeys      int
	FalsePositiveRate float64
	RebuildEvery      time.Duration

	// LoadTimeout bounds each load: a loader call, with its Redis round
	// trips (DefaultLoadTimeout). A load runs apart from the Get that
	// started it, so that its caller leaving does not fail the others
	// waiting for it.
	LoadTimeout time.Duration

	// Redis, when set, is a second level shared by every instance, and
	// the channel over which Added and Invalidate reach them all. Keys
	// live under RedisPrefix (DefaultRedisPrefix), values encoded with
	// Codec (JSONCodec when nil).
	Redis       redis.UniversalClient
	RedisPrefix string
	Codec       Codec

	// Clock is the time source; nil is the system clock, read through a
	// clock the cache advances every millisecond (time.Now costs more than
	// a hit).
	Clock gateway.Clock
}

// Validate reports every bad field, joined.
func (c Config) Validate() error {
	errs := []error{c.Rules.Validate()}
	if c.Shards < 0 || c.Shards&(c.Shards-1) != 0 {
		errs = append(errs, fmt.Errorf("cache: Config.Shards %d is not a power of two", c.Shards))
	}
	if c.ExpectedKeys < 0 {
		errs = append(errs, fmt.Errorf("cache: Config.ExpectedKeys %d is negative", c.ExpectedKeys))
	}
	if c.FalsePositiveRate < 0 || c.FalsePositiveRate > 0.1 {
		errs = append(errs, fmt.Errorf("cache: Config.FalsePositiveRate %v is outside (0, 0.1]", c.FalsePositiveRate))
	}
	if c.RebuildEvery < 0 {
		errs = append(errs, fmt.Errorf("cache: Config.RebuildEvery %v is negative", c.RebuildEvery))
	}
	if c.LoadTimeout < 0 {
		errs = append(errs, fmt.Errorf("cache: Config.LoadTimeout %v is negative", c.LoadTimeout))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	c.Rules = c.Rules.withDefaults()
	if c.Shards == 0 {
		c.Shards = DefaultShards
	}
	if c.ExpectedKeys == 0 {
		c.ExpectedKeys = DefaultExpectedKeys
	}
	if c.FalsePositiveRate == 0 {
		c.FalsePositiveRate = DefaultFalsePositiveRate
	}
	if c.RebuildEvery == 0 {
		c.RebuildEvery = DefaultRebuildEvery
	}
	if c.LoadTimeout == 0 {
		c.LoadTimeout = DefaultLoadTimeout
	}
	if c.RedisPrefix == "" {
		c.RedisPrefix = DefaultRedisPrefix
	}
	if c.Codec == nil {
		c.Codec = JSONCodec{}
	}
	return c
}

// Codec encodes the values the Redis level stores. Implementations must be
// safe for concurrent use.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec is the Codec of encoding/json.
type JSONCodec struct{}

// Marshal returns json.Marshal(v).
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal is json.Unmarshal.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
