package breaker_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/breaker"
)

// Every configuration is checked by its Validate, and every constructor
// returns Validate's error (and no value) instead of panicking. The zero
// value of each is valid: it is the default.

// validateCase is one row of a Validate table: a config and whether it is
// invalid.
type validateCase[C any] struct {
	name string
	cfg  C
	bad  bool
}

// checkValidate runs a Validate table: validate's verdict, and that the
// constructor returns validate's very error and no value for a bad config,
// a value and no error for a good one.
func checkValidate[C, T any](t *testing.T, what string, tests []validateCase[C], validate func(C) error, construct func(C) (T, error)) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(tt.cfg)
			v, cerr := construct(tt.cfg)
			if !tt.bad {
				assert.NoError(t, err)
				assert.NoError(t, cerr)
				assert.NotNil(t, v)
				return
			}
			assert.Error(t, err)
			assert.Equal(t, err, cerr, "%s returns Validate's error", what)
			assert.Nil(t, v)
		})
	}
}

func TestRetryConfigValidate(t *testing.T) {
	tests := []validateCase[breaker.RetryConfig]{
		{"zero", breaker.RetryConfig{}, false},
		{"all set", breaker.RetryConfig{MaxAttempts: 5, BaseDelay: time.Second, MaxDelay: 10 * time.Second, Deadline: time.Minute, MaxBodyBytes: 1}, false},
		{"BaseDelay above the default MaxDelay", breaker.RetryConfig{BaseDelay: 10 * time.Second}, false}, // MaxDelay defaults to at least BaseDelay
		{"MaxDelay equal to BaseDelay", breaker.RetryConfig{BaseDelay: time.Second, MaxDelay: time.Second}, false},
		{"negative MaxAttempts", breaker.RetryConfig{MaxAttempts: -1}, true},
		{"negative BaseDelay", breaker.RetryConfig{BaseDelay: -1}, true},
		{"negative MaxDelay", breaker.RetryConfig{MaxDelay: -1}, true},
		{"MaxDelay below BaseDelay", breaker.RetryConfig{BaseDelay: time.Second, MaxDelay: time.Millisecond}, true},
		{"MaxDelay below the default BaseDelay", breaker.RetryConfig{MaxDelay: time.Millisecond}, true},
		{"negative Deadline", breaker.RetryConfig{Deadline: -1}, true},
		{"negative MaxBodyBytes", breaker.RetryConfig{MaxBodyBytes: -1}, true},
	}
	checkValidate(t, "Retry", tests, breaker.RetryConfig.Validate, breaker.Retry)
	assert.Panics(t, func() { must(breaker.Retry(breaker.RetryConfig{}))(nil) }, "a nil next still panics")
}

func TestBudgetConfigValidate(t *testing.T) {
	tests := []validateCase[breaker.BudgetConfig]{
		{"zero", breaker.BudgetConfig{}, false},
		{"all set", breaker.BudgetConfig{Ratio: 1, MinRetries: 1, Window: time.Second}, false},
		{"shortest window", breaker.BudgetConfig{Window: 10 * time.Nanosecond}, false},
		{"negative Ratio", breaker.BudgetConfig{Ratio: -0.1}, true},
		{"Ratio above 1", breaker.BudgetConfig{Ratio: 1.5}, true},
		{"NaN Ratio", breaker.BudgetConfig{Ratio: math.NaN()}, true},
		{"negative MinRetries", breaker.BudgetConfig{MinRetries: -1}, true},
		{"negative Window", breaker.BudgetConfig{Window: -time.Second}, true},
		{"Window under 10 ns", breaker.BudgetConfig{Window: 9 * time.Nanosecond}, true},
	}
	checkValidate(t, "NewBudget", tests, breaker.BudgetConfig.Validate, breaker.NewBudget)
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   breaker.Config
		field string // named in the error; "" for a valid config
	}{
		{"zero", breaker.Config{}, ""},
		{"all set", breaker.Config{FailureThreshold: 3, FailureRateThreshold: 1, FailureThresholdWindow: 5, MinCalls: 5,
			FailureThresholdPeriod: time.Minute, Delay: time.Second, HalfOpenProbes: 2, SuccessThreshold: 2,
			MaxRetryAfter: time.Minute, Cooldown: time.Second}, ""},
		{"SuccessThreshold equal to the default HalfOpenProbes", breaker.Config{SuccessThreshold: breaker.DefaultHalfOpenProbes}, ""},
		{"negative FailureThreshold", breaker.Config{FailureThreshold: -1}, "FailureThreshold"},
		{"FailureRateThreshold above 1", breaker.Config{FailureRateThreshold: 1.5}, "FailureRateThreshold"},
		{"negative FailureRateThreshold", breaker.Config{FailureRateThreshold: -0.5}, "FailureRateThreshold"},
		{"NaN FailureRateThreshold", breaker.Config{FailureRateThreshold: math.NaN()}, "FailureRateThreshold"},
		{"negative FailureThresholdWindow", breaker.Config{FailureThresholdWindow: -1}, "FailureThresholdWindow"},
		{"negative FailureThresholdPeriod", breaker.Config{FailureThresholdPeriod: -1}, "FailureThresholdPeriod"},
		{"negative MinCalls", breaker.Config{MinCalls: -1}, "MinCalls"},
		{"negative Delay", breaker.Config{Delay: -time.Second}, "Delay"},
		{"negative HalfOpenProbes", breaker.Config{HalfOpenProbes: -1}, "HalfOpenProbes"},
		{"negative SuccessThreshold", breaker.Config{SuccessThreshold: -1}, "SuccessThreshold"},
		{"SuccessThreshold above HalfOpenProbes", breaker.Config{HalfOpenProbes: 2, SuccessThreshold: 3}, "SuccessThreshold"},
		{"SuccessThreshold above the default HalfOpenProbes", breaker.Config{SuccessThreshold: breaker.DefaultHalfOpenProbes + 1}, "SuccessThreshold"},
		{"negative MaxRetryAfter", breaker.Config{MaxRetryAfter: -1}, "MaxRetryAfter"},
		{"negative Cooldown", breaker.Config{Cooldown: -1}, "Cooldown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			cb, cerr := breaker.NewCircuitBreaker("a", tt.cfg)
			if tt.field == "" {
				assert.NoError(t, err)
				assert.NoError(t, cerr)
				assert.NotNil(t, cb)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), "Config."+tt.field)
			assert.Len(t, joined(err), 1, "one bad field, one error")
			assert.Equal(t, err, cerr, "NewCircuitBreaker returns Validate's error")
			assert.Nil(t, cb)
		})
	}
	assert.Panics(t, func() { must(breaker.NewCircuitBreaker("a", breaker.Config{})).Wrap(nil) }, "a nil next still panics")
	assert.Panics(t, func() { must(breaker.NewCircuitBreaker("a", breaker.Config{})).Middleware()(nil) })
}

// Config.Validate reports every bad field at once, joined.
func TestConfigValidateReportsEveryBadField(t *testing.T) {
	cfg := breaker.Config{FailureThreshold: -1, FailureRateThreshold: 2, Delay: -time.Second, Cooldown: -1,
		HalfOpenProbes: 2, SuccessThreshold: 5}
	err := cfg.Validate()
	require.Error(t, err)
	errs := joined(err)
	require.Len(t, errs, 5, "one error per bad field")
	for _, field := range []string{"FailureThreshold", "Delay", "Cooldown", "FailureRateThreshold", "SuccessThreshold"} {
		n := 0
		for _, e := range errs {
			if strings.Contains(e.Error(), "Config."+field+" ") {
				n++
			}
		}
		assert.Equal(t, 1, n, "%s is reported once", field)
		assert.Contains(t, err.Error(), "Config."+field)
	}
	_, cerr := breaker.NewCircuitBreaker("a", cfg)
	assert.Equal(t, err, cerr)
}

// joined returns the errors err joins (errors.Join), or err alone.
func joined(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

func TestTimeoutConfigValidate(t *testing.T) {
	tests := []validateCase[breaker.TimeoutConfig]{
		{"zero", breaker.TimeoutConfig{}, false},
		{"all set", breaker.TimeoutConfig{Total: time.Hour, Header: time.Minute, FirstToken: time.Minute, Idle: time.Second}, false},
		{"negative Total", breaker.TimeoutConfig{Total: -1}, true},
		{"negative Header", breaker.TimeoutConfig{Header: -1}, true},
		{"negative FirstToken", breaker.TimeoutConfig{FirstToken: -1}, true},
		{"negative Idle", breaker.TimeoutConfig{Idle: -1}, true},
	}
	checkValidate(t, "Timeouts", tests, breaker.TimeoutConfig.Validate, breaker.Timeouts)
	assert.Panics(t, func() { must(breaker.Timeouts(breaker.TimeoutConfig{}))(nil) }, "a nil next still panics")
}

func TestHedgeConfigValidate(t *testing.T) {
	tests := []validateCase[breaker.HedgeConfig]{
		{"zero", breaker.HedgeConfig{}, false},
		{"all set", breaker.HedgeConfig{Delay: time.Second, Percentile: 0.99, MinDelay: time.Millisecond, MaxHedges: 2, MaxBodyBytes: 1}, false},
		{"negative Delay", breaker.HedgeConfig{Delay: -1}, true},
		{"negative MinDelay", breaker.HedgeConfig{MinDelay: -1}, true},
		{"negative MaxHedges", breaker.HedgeConfig{MaxHedges: -1}, true},
		{"negative MaxBodyBytes", breaker.HedgeConfig{MaxBodyBytes: -1}, true},
		{"Percentile 1", breaker.HedgeConfig{Percentile: 1}, true},
		{"negative Percentile", breaker.HedgeConfig{Percentile: -0.1}, true},
		{"NaN Percentile", breaker.HedgeConfig{Percentile: math.NaN()}, true},
	}
	checkValidate(t, "Hedge", tests, breaker.HedgeConfig.Validate, breaker.Hedge)
	assert.Panics(t, func() { must(breaker.Hedge(breaker.HedgeConfig{}))(nil) }, "a nil next still panics")
}

func TestBulkheadConfigValidate(t *testing.T) {
	tests := []struct {
		max int
		cfg breaker.BulkheadConfig
		bad bool
	}{
		{4, breaker.BulkheadConfig{}, false},
		{1, breaker.BulkheadConfig{}, false},
		{4, breaker.BulkheadConfig{Adaptive: true}, false},
		{4, breaker.BulkheadConfig{Adaptive: true, MinLimit: 2, InitialLimit: 3, MaxWait: time.Second}, false},
		{4, breaker.BulkheadConfig{MinLimit: 4, InitialLimit: 4}, false},
		{0, breaker.BulkheadConfig{}, true},
		{-1, breaker.BulkheadConfig{}, true},
		{4, breaker.BulkheadConfig{MaxWait: -1}, true},
		{4, breaker.BulkheadConfig{MinLimit: -1}, true},
		{4, breaker.BulkheadConfig{MinLimit: 5}, true},
		{4, breaker.BulkheadConfig{InitialLimit: -1}, true},
		{4, breaker.BulkheadConfig{InitialLimit: 5}, true},
		{4, breaker.BulkheadConfig{MinLimit: 3, InitialLimit: 2}, true},
		{4, breaker.BulkheadConfig{Adaptive: true, MinLimit: 5}, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %+v", tt.max, tt.cfg), func(t *testing.T) {
			err := tt.cfg.Validate(tt.max)
			b, cerr := breaker.NewBulkhead(tt.max, tt.cfg)
			if !tt.bad {
				assert.NoError(t, err)
				assert.NoError(t, cerr)
				assert.NotNil(t, b)
				return
			}
			assert.Error(t, err)
			assert.Equal(t, err, cerr, "NewBulkhead returns Validate's error")
			assert.Nil(t, b)
		})
	}
	assert.Panics(t, func() { must(breaker.NewBulkhead(1, breaker.BulkheadConfig{})).Middleware()(nil) }, "a nil next still panics")
}
