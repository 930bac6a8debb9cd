package config

import "time"

// File is the gateway's YAML configuration, as Parse and Load read it (README.md, "Configuration",
// documents every key). A key left out takes the library's default; a key
// written with a zero or negative value where a positive one is needed is an
// error, never "unlimited" or "off".
type File struct {
	Listen          string         `yaml:"listen"`           // default 127.0.0.1:8080; -addr overrides it
	ShutdownTimeout time.Duration  `yaml:"shutdown_timeout"` // default 10s
	MaxConns        int            `yaml:"max_conns"`        // connections open at once; default gateway.Server's (4096)
	Limits          limitsConfig   `yaml:"limits"`
	Providers       []providerConf `yaml:"providers"`
	Router          routerConf     `yaml:"router"`
	Retry           retryConf      `yaml:"retry"`
	Hedge           hedgeConf      `yaml:"hedge"`
	Timeouts        timeoutsConf   `yaml:"timeouts"`
	Billing         billingConf    `yaml:"billing"`
	Keys            *keysConf      `yaml:"keys"` // config_keys.go; none: every caller is served

	ResponseCache responseCacheConf `yaml:"response_cache"` // config_cache.go
	Logging       Logging           `yaml:"logging"`        // logging.go
	Metrics       metricsConf       `yaml:"metrics"`        // observe_metrics.go
	Tracing       tracingConf       `yaml:"tracing"`        // observe_tracing.go

	Health healthConf `yaml:"health"` // config_health.go: active health checks of the targets
	Admin  adminConf  `yaml:"admin"`  // admin.go: the admin listener (probes, pprof)

	src source // where each key was written, for error messages
}

// limitsConfig bounds request bodies (gateway.Limits).
type limitsConfig struct {
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	MaxDepth     int   `yaml:"max_depth"`
	MaxMessages  int   `yaml:"max_messages"`
	MaxTokens    int   `yaml:"max_tokens"`
	// MaxBodyBytesInFlight bounds the request-body bytes held at once,
	// over all calls; default gateway.Limits' (256 MiB).
	MaxBodyBytesInFlight int64 `yaml:"max_body_bytes_in_flight"`
	// The rate limits: rules, Redis, time zone (config_limits.go).
	Rate rateLimitsConf `yaml:",inline"`
}

// Provider types.
const (
	typeOpenAI = "openai"
	typeAzure  = "azure"
	typeSim    = "sim"
	typeGemini = "gemini" // config_gemini.go
	// typeAnthropic: config_anthropic.go
)

// providerConf is one model backend.
type providerConf struct {
	Name     string            `yaml:"name"`
	Type     string            `yaml:"type"` // openai | azure | anthropic | gemini | sim
	BaseURL  string            `yaml:"base_url"`
	APIKey   string            `yaml:"api_key"`
	Headers  map[string]string `yaml:"headers"`
	Models   []string          `yaml:"models"`
	ModelMap map[string]string `yaml:"model_map"`
	// VerbatimErrors passes the upstream's error bodies to callers as
	// they came, key fragments and account ids included (openai, azure,
	// gemini).
	VerbatimErrors bool           `yaml:"verbatim_errors"`
	Azure          *azureConf     `yaml:"azure"`     // type azure only
	Sim            *simConf       `yaml:"sim"`       // type sim only
	Anthropic      *anthropicConf `yaml:"anthropic"` // type anthropic only (config_anthropic.go)
}

type azureConf struct {
	APIVersion  string            `yaml:"api_version"`
	Deployments map[string]string `yaml:"deployments"`
}

// simConf configures a gatewaytest.Sim; models come from providerConf.Models.
type simConf struct {
	Latency          time.Duration `yaml:"latency"`
	TTFT             time.Duration `yaml:"ttft"`
	TokensPerSecond  float64       `yaml:"tokens_per_second"`
	CompletionTokens int           `yaml:"completion_tokens"`
	Reply            string        `yaml:"reply"`
	Seed             uint64        `yaml:"seed"`
	Faults           faultsConf    `yaml:"faults"`
}

type faultsConf struct {
	ErrorRate     float64       `yaml:"error_rate"`
	ErrorStatuses []int         `yaml:"error_statuses"`
	RetryAfter    time.Duration `yaml:"retry_after"`
	TimeoutRate   float64       `yaml:"timeout_rate"`
	ResetRate     float64       `yaml:"reset_rate"`
	StallRate     float64       `yaml:"stall_rate"`
	CutRate       float64       `yaml:"cut_rate"`
	CutAfter      int           `yaml:"cut_after"`
}

// routerConf configures the router.Router in front of the providers.
type routerConf struct {
	Strategy string `yaml:"strategy"`
	// FirstTokenTimeout, when set, bounds a stream's first content at the
	// router, over every attempt a target's call makes (hedges included).
	// Unset, the router sets none: each attempt is bounded already by
	// timeouts.first_token (breaker.Timeouts, in every target's chain).
	FirstTokenTimeout time.Duration `yaml:"first_token_timeout"`
	HintFloor         int           `yaml:"hint_floor"`
	DisableHints      bool          `yaml:"disable_hints"`
	Budget            budgetConf    `yaml:"budget"`
	// Targets default to one per provider, weight 1, tier 0.
	Targets []targetConf `yaml:"targets"`
}

// budgetConf is the retry budget shared by the retry and the router
// (breaker.BudgetConfig).
type budgetConf struct {
	Ratio      float64       `yaml:"ratio"`
	MinRetries int           `yaml:"min_retries"`
	Window     time.Duration `yaml:"window"`
}

type targetConf struct {
	Provider string            `yaml:"provider"`
	Name     string            `yaml:"name"`   // default: the provider's name
	Weight   int               `yaml:"weight"` // default 1
	Tier     int               `yaml:"tier"`
	Models   []string          `yaml:"models"`
	ModelMap map[string]string `yaml:"model_map"`
	Breaker  breakerConf       `yaml:"breaker"`
}

// breakerConf configures a target's circuit breaker (breaker.Config).
type breakerConf struct {
	FailureThreshold       int           `yaml:"failure_threshold"`
	FailureRateThreshold   float64       `yaml:"failure_rate_threshold"`
	FailureThresholdWindow int           `yaml:"failure_threshold_window"`
	FailureThresholdPeriod time.Duration `yaml:"failure_threshold_period"`
	MinCalls               int           `yaml:"min_calls"`
	Delay                  time.Duration `yaml:"delay"`
	HalfOpenProbes         int           `yaml:"half_open_probes"`
	SuccessThreshold       int           `yaml:"success_threshold"`
	Cooldown               time.Duration `yaml:"cooldown"`        // after a 429 without Retry-After
	MaxRetryAfter          time.Duration `yaml:"max_retry_after"` // the ceiling on a Retry-After cooldown
}

// retryConf configures breaker.Retry, outside the router.
type retryConf struct {
	MaxAttempts int           `yaml:"max_attempts"`
	BaseDelay   time.Duration `yaml:"base_delay"`
	MaxDelay    time.Duration `yaml:"max_delay"`
	Deadline    time.Duration `yaml:"deadline"`
	// MaxWait bounds every wait for capacity: Retry's for a Retry-After,
	// the router's for a cooling-down target. Default 2s.
	MaxWait time.Duration `yaml:"max_wait"`
	// Idempotent is the one rule for sending a call again after an
	// ambiguous failure (a reset or timeout after it was sent), by Retry
	// and by the router's fallbacks: model_calls (default), idempotency_key
	// (only requests with an Idempotency-Key header) or none.
	Idempotent string `yaml:"idempotent"`
}

// hedgeConf configures breaker.Hedge, inside each target: an attempt that
// has not answered within the learned percentile of that target's recent
// latencies (never sooner than min_delay) is sent again, and the first
// answer wins.
type hedgeConf struct {
	Disable    bool          `yaml:"disable"`
	Percentile float64       `yaml:"percentile"` // default 0.99
	MinDelay   time.Duration `yaml:"min_delay"`  // default 50ms
	Delay      time.Duration `yaml:"delay"`      // before enough latencies are seen; default 2s
	MaxHedges  int           `yaml:"max_hedges"` // default 2
	// CutAfter gives an attempt up when nothing has answered this many
	// times the learned hedge delay (a hang no hedge could rescue); it
	// applies once the percentile is learned. Default 10; no_cut turns it off.
	CutAfter float64 `yaml:"cut_after"`
	NoCut    bool    `yaml:"no_cut"`
}

// timeoutsConf configures breaker.Timeouts, applied to every target.
type timeoutsConf struct {
	Header     time.Duration `yaml:"header"`
	FirstToken time.Duration `yaml:"first_token"`
	Idle       time.Duration `yaml:"idle"`
	Total      time.Duration `yaml:"total"`
}

// Defaults of the schema itself (the library's own defaults apply to the
// rest; gateway.go has the listen address's and the shutdown's).
const (
	// defaultHedgePercentile turns hedging on: only the slowest 1% of
	// attempts (and those that hang) are sent twice.
	defaultHedgePercentile = 0.99
	// defaultMaxHedges: a second hedge for the rare attempt whose first
	// hedge hangs too (1% of 1% with 1% of attempts hanging).
	defaultMaxHedges = 2
	// defaultHedgeCutAfter: an attempt ten times slower than the slowest
	// 1% of the target's recent ones is given up.
	defaultHedgeCutAfter = 10
)
