package billing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix prefixes every key a RedisBudgets writes. Its hash tag
// puts them all in one cluster slot, as one script touches several.
const DefaultRedisPrefix = "{llmgate:budget}:"

// DefaultRedisRetain is how long a period's bucket is kept in Redis after
// the period ends, for reports.
const DefaultRedisRetain = 7 * 24 * time.Hour

// RedisBudgetConfig configures NewRedisBudgets. Its zero value is usable.
type RedisBudgetConfig struct {
	Prefix string        // default DefaultRedisPrefix
	Retain time.Duration // default DefaultRedisRetain; a negative value is an error
}

// RedisBudgets is a BudgetStore in Redis, shared by every gateway instance
// that uses the same Redis and prefix: each Reserve and Settle is one Lua
// script, atomic across the fleet. The state lives only in Redis, so a
// restarted instance forgets no spend, and a hold whose instance crashed
// expires after its ttl. A bucket's keys expire Retain after its period
// ends; a budget that never resets keeps its spend until deleted.
//
// Amounts are summed by Redis in 64-bit integers; the comparison with the
// limit runs in Lua's doubles, exact below 2^53 nano-dollars (9 million
// dollars) per bucket. Safe for concurrent use.
type RedisBudgets struct {
	rdb    redis.Scripter
	prefix string
	retain time.Duration
}

// NewRedisBudgets returns a store over rdb (a *redis.Client, a cluster or
// ring client).
func NewRedisBudgets(rdb redis.Scripter, cfg RedisBudgetConfig) (*RedisBudgets, error) {
	if rdb == nil {
		return nil, errors.New("billing: NewRedisBudgets needs a Redis client")
	}
	if cfg.Retain < 0 {
		return nil, errors.New("billing: RedisBudgetConfig.Retain is negative")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultRedisPrefix
	}
	if cfg.Retain == 0 {
		cfg.Retain = DefaultRedisRetain
	}
	return &RedisBudgets{rdb: rdb, prefix: cfg.Prefix, retain: cfg.Retain}, nil
}

// Each bucket has three keys: <name>:s, a hash of spent and held; <name>:h,
// hold id -> amount; <name>:z, hold id scored by its expiry (ms). Holds that
// have expired are dropped from held before any check. A settled id stays
// in <name>:h as the tombstone "s" for settledKeep, so that a retried
// Settle adds its spend once. (HINCRBY refuses "-0": a zero hold, a call
// admitted unpriced, is never decremented.)
const expireHolds = `
local function expire(s, h, z, now)
  local stale = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  for _, id in ipairs(stale) do
    local amt = tonumber(redis.call('HGET', h, id)) or 0
    if amt ~= 0 then redis.call('HINCRBY', s, 'held', -amt) end
    redis.call('HDEL', h, id)
  end
  if #stale > 0 then redis.call('ZREMRANGEBYSCORE', z, '-inf', now) end
end
local function keep(i, ttl)
  if ttl > 0 then
    for k = 3*i-2, 3*i do redis.call('PEXPIRE', KEYS[k], ttl) end
  end
end
`

// ARGV: id, amount, now (ms), hold expiry (ms), then per bucket: limit, ttl (ms, 0 = none).
var reserveScript = redis.NewScript(expireHolds + `
local id, amount, now, exp = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS / 3
for i = 1, n do
  local s, h, z = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  expire(s, h, z, now)
  if redis.call('HEXISTS', h, id) == 0 then
    local spent = tonumber(redis.call('HGET', s, 'spent') or '0')
    local held = tonumber(redis.call('HGET', s, 'held') or '0')
    if spent + held + amount > tonumber(ARGV[3 + 2*i]) then return i end
  end
end
for i = 1, n do
  local s, h, z = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  if redis.call('HSETNX', h, id, amount) == 1 then
    redis.call('HINCRBY', s, 'held', amount)
    redis.call('ZADD', z, exp, id)
  end
  keep(i, tonumber(ARGV[4 + 2*i]))
end
return 0
`)

// ARGV: id, actual, now (ms), tombstone expiry (ms), then per bucket: ttl
// (ms, 0 = none).
var settleScript = redis.NewScript(expireHolds + `
local id, actual, now, tomb = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS / 3
for i = 1, n do
  local s, h, z = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  expire(s, h, z, now)
  local amt = redis.call('HGET', h, id)
  if amt ~= 's' then
    if amt and amt ~= '0' then redis.call('HINCRBY', s, 'held', -tonumber(amt)) end
    if actual > 0 then redis.call('HINCRBY', s, 'spent', actual) end
    redis.call('HSET', h, id, 's')
    redis.call('ZADD', z, tomb, id)
  end
  keep(i, tonumber(ARGV[4 + i]))
end
return 0
`)

func (s *RedisBudgets) keys(buckets []Bucket) []string {
	keys := make([]string, 0, 3*len(buckets))
	for _, b := range buckets {
		base := s.prefix + b.Name
		keys = append(keys, base+":s", base+":h", base+":z")
	}
	return keys
}

// ttl returns how long a bucket's keys live from now, in ms; 0 for ever.
func (s *RedisBudgets) ttl(b Bucket, now time.Time) int64 {
	if b.Ends.IsZero() {
		return 0
	}
	return max(b.Ends.Sub(now)+s.retain, time.Second).Milliseconds()
}

// Reserve implements BudgetStore.
func (s *RedisBudgets) Reserve(ctx context.Context, id string, buckets []Bucket, amount int64, ttl time.Duration, now time.Time) (int, error) {
	args := make([]any, 0, 4+2*len(buckets))
	args = append(args, id, amount, now.UnixMilli(), now.Add(ttl).UnixMilli())
	for _, b := range buckets {
		args = append(args, b.Limit, s.ttl(b, now))
	}
	v, err := reserveScript.Run(ctx, s.rdb, s.keys(buckets), args...).Int()
	if err != nil {
		return -1, &storeError{ge: ErrBudgetUnavailable, cause: fmt.Errorf("billing: redis reserve: %w", err)}
	}
	return v - 1, nil // 0 (admitted) -> -1; bucket i+1 -> i
}

// Settle implements BudgetStore.
func (s *RedisBudgets) Settle(ctx context.Context, id string, buckets []Bucket, actual int64, now time.Time) error {
	args := make([]any, 0, 4+len(buckets))
	args = append(args, id, actual, now.UnixMilli(), now.Add(settledKeep).UnixMilli())
	for _, b := range buckets {
		args = append(args, s.ttl(b, now))
	}
	if err := settleScript.Run(ctx, s.rdb, s.keys(buckets), args...).Err(); err != nil {
		return &storeError{ge: ErrBudgetUnavailable, cause: fmt.Errorf("billing: redis settle: %w", err)}
	}
	return nil
}

// Spent returns a bucket's spend and holds (holds not yet expired by a
// later Reserve or Settle included), for tests and reports.
func (s *RedisBudgets) Spent(ctx context.Context, name string) (spent, held int64, err error) {
	c, ok := s.rdb.(interface {
		HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd
	})
	if !ok {
		return 0, 0, errors.New("billing: the Redis client cannot read hashes")
	}
	vals, err := c.HMGet(ctx, s.prefix+name+":s", "spent", "held").Result()
	if err != nil {
		return 0, 0, err
	}
	num := func(v any) int64 {
		str, _ := v.(string)
		n, _ := strconv.ParseInt(str, 10, 64)
		return n
	}
	return num(vals[0]), num(vals[1]), nil
}

// ARGV: now (ms). Per bucket, its spend and its holds less those expired
// by now (which the next Reserve or Settle drops): a read, which writes
// nothing.
var balancesScript = redis.NewScript(`
local out = {}
for i = 1, #KEYS / 3 do
  local s, h, z = KEYS[3*i-2], KEYS[3*i-1], KEYS[3*i]
  local v = redis.call('HMGET', s, 'spent', 'held')
  local spent, held = tonumber(v[1] or '0') or 0, tonumber(v[2] or '0') or 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', z, '-inf', ARGV[1])) do
    held = held - (tonumber(redis.call('HGET', h, id)) or 0)
  end
  out[2*i-1], out[2*i] = spent, held
end
return out
`)

// Balances implements BudgetReader: one script, one round trip, whatever
// the number of buckets; ctx bounds it (a client made with
// ContextTimeoutEnabled honours its deadline on the wire too).
func (s *RedisBudgets) Balances(ctx context.Context, buckets []Bucket, now time.Time) ([]Balance, error) {
	if len(buckets) == 0 {
		return nil, nil
	}
	v, err := balancesScript.Run(ctx, s.rdb, s.keys(buckets), now.UnixMilli()).Int64Slice()
	if err != nil {
		return nil, fmt.Errorf("billing: redis balances: %w", err)
	}
	if len(v) != 2*len(buckets) {
		return nil, fmt.Errorf("billing: redis balances: %d values for %d buckets", len(v), len(buckets))
	}
	out := make([]Balance, len(buckets))
	for i := range out {
		out[i] = Balance{Spent: v[2*i], Held: v[2*i+1]}
	}
	return out, nil
}
