package limiter

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/gatewaytest"
)

// A daily quota resets at midnight in the configured time zone, not UTC's,
// and its refusal's Retry-After is the time left until then.
func TestQuotaResetsAtMidnightInItsTimeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	clk := gatewaytest.NewClock(time.Date(2026, 12, 1, 23, 58, 0, 0, ny)) // 04:58 UTC on Dec 2
	l, err := New(Config{Clock: clk, Location: ny, Rules: []Rule{
		{Name: "daily", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 3, Per: Day},
		{Name: "monthly", Dimensions: []Dimension{KeyID}, Unit: Requests, Limit: 5, Per: Month},
	}})
	require.NoError(t, err)
	defer l.Close()
	c := client(l, sim(gatewaytest.SimConfig{}))
	who := gateway.Caller{KeyID: "k"}
	for range 3 {
		require.Equal(t, 200, do(t, c, who, callBody("m", false, 0)).status)
	}
	r := do(t, c, who, callBody("m", false, 0))
	assert.Equal(t, 429, r.status)
	assert.True(t, errors.Is(r.err, ErrQuotaExceeded))
	assert.Equal(t, "120", r.header.Get("Retry-After"), "two minutes to New York's midnight")

	clk.Advance(119 * time.Second)
	assert.Equal(t, 429, do(t, c, who, callBody("m", false, 0)).status, "one second before midnight")
	clk.Advance(time.Second)
	assert.Equal(t, 200, do(t, c, who, callBody("m", false, 0)).status, "a new day")
	assert.Equal(t, 200, do(t, c, who, callBody("m", false, 0)).status)
	r = do(t, c, who, callBody("m", false, 0))
	assert.True(t, errors.Is(r.err, ErrQuotaExceeded), "the month's 5 are used, though the day has one left")
	assert.Equal(t, 200, do(t, c, gateway.Caller{KeyID: "other"}, callBody("m", false, 0)).status, "per key")
}

// A failed call gives its request back to the quota; a token quota settles
// to the usage.
func TestQuotaGivesBackFailedCalls(t *testing.T) {
	clk := gatewaytest.NewClock(t0)
	l := newTestLimiter(t, clk, Rule{Name: "daily", Unit: Requests, Limit: 1, Per: Day})
	down := sim(gatewaytest.SimConfig{Faults: gatewaytest.Faults{ErrorRate: 1, ErrorStatuses: []int{503}}})
	for range 3 {
		assert.Equal(t, 503, do(t, client(l, down), gateway.Caller{}, callBody("m", false, 0)).status)
	}
	assert.Equal(t, 200, do(t, client(l, sim(gatewaytest.SimConfig{})), gateway.Caller{}, callBody("m", false, 0)).status)
	assert.Equal(t, 429, do(t, client(l, sim(gatewaytest.SimConfig{})), gateway.Caller{}, callBody("m", false, 0)).status)
}

// A quota whose guaranteed shares leave a lower group nothing refuses that
// group: a reservation is never cut to zero units.
func TestQuotaReserveNeverAdmitsForFree(t *testing.T) {
	l := newTestLimiter(t, gatewaytest.NewClock(t0),
		Rule{Name: "daily", Unit: Requests, Limit: 1, Per: Day, Shares: map[int]float64{1: 0.5}})
	c := client(l, sim(gatewaytest.SimConfig{}))
	for range 3 {
		assert.Equal(t, 429, do(t, c, gateway.Caller{}, callBody("m", false, 0)).status, "batch: the one call is core's")
	}
	assert.Equal(t, 200, do(t, c, gateway.Caller{Priority: 1}, callBody("m", false, 0)).status)
	assert.Equal(t, 429, do(t, c, gateway.Caller{Priority: 1}, callBody("m", false, 0)).status)
}
