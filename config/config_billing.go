package config

import (
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/billing"
)

// billingConf is the billing section: prices, where usage records go, and
// budgets (README.md, "Configuration").
type billingConf struct {
	// PricesFile is a LiteLLM or genai-prices JSON price list, merged over
	// the embedded table (billing.DefaultPrices).
	PricesFile string `yaml:"prices_file"`
	// Sinks receive every usage record (config_sinks.go); without the key,
	// one JSONL file, defaultUsageFile in the working directory.
	Sinks *billingSinksConf `yaml:"sinks"`
	// SpillDir holds the pipeline's write-ahead log, replayed at the next
	// start; default beside the JSONL file (spillDirOf).
	SpillDir string              `yaml:"spill_dir"`
	Pipeline billingPipelineConf `yaml:"pipeline"`
	Budgets  billingBudgetsConf  `yaml:"budgets"`
}

type billingBudgetsConf struct {
	Policy               string        `yaml:"policy"` // strict (default) | expected
	DefaultMaxTokens     int           `yaml:"default_max_tokens"`
	ExpectedOutputTokens int           `yaml:"expected_output_tokens"`
	HoldTTL              time.Duration `yaml:"hold_ttl"`
	TimeZone             string        `yaml:"time_zone"` // of day and month periods; default UTC
	AdmitUnpriced        bool          `yaml:"admit_unpriced"`
	// Redis shares budgets with every instance on the same Redis; without
	// it they are local to this process and forgotten when it exits.
	Redis   *billingRedisConf            `yaml:"redis"`
	Tenants map[string]billingBudgetConf `yaml:"tenants"`
	Keys    map[string]billingBudgetConf `yaml:"keys"`
}

type billingRedisConf struct {
	Addr   string `yaml:"addr"`
	Prefix string `yaml:"prefix"`
}

type billingBudgetConf struct {
	LimitUSD float64 `yaml:"limit_usd"`
	Period   string  `yaml:"period"` // day | month | "" (never resets)
}

// billingParts is what the billing section builds: the middlewares to put
// in front of Retry, the pipeline's plan (opened by start, billing_run.go,
// so that -check creates nothing), and what to release when the server has
// stopped.
type billingParts struct {
	mws   []gateway.Middleware // rebuilt by update, read by swap: both under Gateway.reloadMu
	plan  pipelinePlan
	rec   *pipelineRecorder // the Meter's Recorder; start gives it the Pipeline
	meter *billing.Meter    // stop settles what its budget store failed
	open  *openPipeline     // nil until start
	redis *redis.Client
}

// newBilling checks the billing section and builds the Meter (and, before
// it, the stand-in that gives keys their configured budgets), each mistake
// reported at its key.
func (c *checker) newBilling(bc *billingConf) *billingParts {
	parts := &billingParts{plan: c.pipelinePlan(bc), rec: &pipelineRecorder{}}
	cfg, keys := c.meterConfig(bc)
	if r := bc.Budgets.Redis; c.budgetRedis(r) {
		// ContextTimeoutEnabled: a settle is bounded by the Meter's
		// SettleTimeout (2s), not by the client's 3s read timeout;
		// go-redis's own retries are safe, Reserve and Settle being
		// idempotent per call id.
		parts.redis = redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
		store, err := billing.NewRedisBudgets(parts.redis, billing.RedisBudgetConfig{Prefix: r.Prefix})
		c.lib("billing.budgets.redis", err)
		cfg.Budget.Store = store
	}
	m, err := billing.NewMeter(c.costRecorder(parts.rec), cfg)
	if !c.lib("billing.budgets", err) {
		return parts
	}
	parts.meter = m
	parts.mws = meterMiddlewares(keys, m)
	return parts
}

// liveBilling checks the billing section as newBilling does, opening
// nothing (its sinks and its Redis need a restart), and returns what
// Reload applies live: the Meter's prices and budgets, and the keys'
// budgets.
func (c *checker) liveBilling(bc *billingConf) (billing.MeterConfig, map[string]gateway.Budget) {
	c.pipelinePlan(bc)
	c.budgetRedis(bc.Budgets.Redis)
	cfg, keys := c.meterConfig(bc)
	c.lib("billing.budgets", cfg.Validate())
	return cfg, keys
}

// update makes cfg's prices and budgets the Meter's, keeping its budget
// store and every spend in it, and keys the keys' budgets of the chain the
// next swap builds. A call in flight finishes at the prices it held under
// (billing.Meter.Update).
func (b *billingParts) update(cfg billing.MeterConfig, keys map[string]gateway.Budget) error {
	if err := b.meter.Update(cfg); err != nil {
		return err
	}
	b.mws = meterMiddlewares(keys, b.meter)
	return nil
}

// meterMiddlewares are the Meter and, before it, the stand-in that gives
// keys their configured budgets (none without any).
func meterMiddlewares(keys map[string]gateway.Budget, m *billing.Meter) []gateway.Middleware {
	if len(keys) == 0 {
		return []gateway.Middleware{m.Middleware()}
	}
	return []gateway.Middleware{keyBudgets(keys), m.Middleware()}
}

// meterConfig checks the billing section's prices (the embedded table and
// prices_file over it) and budgets, each mistake at its key, and returns
// them as the Meter's config, with no store, and the keys' budgets.
func (c *checker) meterConfig(bc *billingConf) (billing.MeterConfig, map[string]gateway.Budget) {
	prices := billing.DefaultPrices()
	if bc.PricesFile != "" {
		t, err := billing.LoadPrices(bc.PricesFile)
		if c.lib("billing.prices_file", err) {
			prices = prices.Merge(t)
		}
	}
	b := &bc.Budgets
	cfg := billing.BudgetConfig{
		DefaultMaxTokens:     positive(c, "billing.budgets.default_max_tokens", b.DefaultMaxTokens),
		ExpectedOutputTokens: positive(c, "billing.budgets.expected_output_tokens", b.ExpectedOutputTokens),
		HoldTTL:              positive(c, "billing.budgets.hold_ttl", b.HoldTTL),
		AdmitUnpriced:        b.AdmitUnpriced,
		Tenants:              c.budgets("billing.budgets.tenants", b.Tenants),
	}
	switch b.Policy {
	case "", "strict":
		cfg.Policy = billing.Strict
	case "expected":
		cfg.Policy = billing.Expected
	default:
		c.fail("billing.budgets.policy", "unknown policy %q: want strict or expected", b.Policy)
	}
	if b.TimeZone != "" {
		loc, err := time.LoadLocation(b.TimeZone)
		if err != nil {
			c.fail("billing.budgets.time_zone", "unknown time zone %q", b.TimeZone)
		}
		cfg.Location = loc
	}
	keys := c.budgets("billing.budgets.keys", b.Keys)
	return billing.MeterConfig{Prices: prices, Budget: cfg}, keys
}

// budgetRedis checks billing.budgets.redis and reports whether there is
// one to open.
func (c *checker) budgetRedis(r *billingRedisConf) bool {
	if r == nil {
		return false
	}
	return c.hostPort("billing.budgets.redis.addr", r.Addr, "127.0.0.1:6379")
}

// budgets converts configured budgets, reporting each mistake at its key.
func (c *checker) budgets(path string, in map[string]billingBudgetConf) map[string]gateway.Budget {
	if len(in) == 0 {
		return nil
	}
	out := make(map[string]gateway.Budget, len(in))
	names := make([]string, 0, len(in))
	for n := range in {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		b, p := in[n], path+"."+n
		ok := true
		if b.LimitUSD <= 0 || b.LimitUSD > math.MaxInt64/1e9 {
			c.fail(p+".limit_usd", "must be a positive number of dollars")
			ok = false
		}
		if b.Period != "" && b.Period != "day" && b.Period != "month" {
			c.fail(p+".period", "unknown period %q: want day, month, or leave it out for a budget that never resets", b.Period)
			ok = false
		}
		if !ok {
			continue
		}
		out[n] = gateway.Budget{Limit: int64(math.Round(b.LimitUSD * 1e9)), Period: b.Period}
	}
	return out
}

// keyBudgets gives a caller with no budget of its own the one configured
// for its key id. It stands in until the key store of authentication
// carries budgets (Caller.Budget is authentication's to set); it goes after
// authentication and before the Meter.
func keyBudgets(keys map[string]gateway.Budget) gateway.Middleware {
	return func(next http.RoundTripper) http.RoundTripper {
		return gateway.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			if c := gateway.CallFrom(req.Context()); c != nil && c.Caller.Budget.Limit == 0 {
				if b, ok := keys[c.Caller.KeyID]; ok {
					c.Caller.Budget = b
				}
			}
			return next.RoundTrip(req)
		})
	}
}
