package limiter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Shared state in Redis. A bucket is one key holding its theoretical arrival
// time in microseconds of Redis's own clock (TIME, read inside the script),
// so instances whose clocks disagree decide the same. A quota is one counter
// per period, its key naming the period (computed from Redis's time), that
// expires a day after the period ends.
//
// Each script grants between min and want units, or none, atomically: the
// sum of the units granted never exceeds what the limit allows, whatever the
// number of instances asking.

// leaseBucket: KEYS[1] bucket; ARGV per_us, limit, burst, want, min, reserve.
// Returns {granted, wait_us, remaining, reset_us, now_us}.
var leaseBucket = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local iv = tonumber(ARGV[1]) / tonumber(ARGV[2])
local burst, want, min, reserve = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local free = math.floor((burst * iv - (tat - now)) / iv + 1e-9)
local grant = math.min(want, free - reserve)
if grant < min then
  local wait = tat + min * iv - now - (burst - reserve) * iv
  return {0, math.ceil(math.max(wait, 1)), math.max(free, 0), math.ceil(tat - now), now}
end
tat = tat + grant * iv
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return {grant, 0, free - grant, math.ceil(tat - now), now}
`)

// returnBucket: KEYS[1] bucket; ARGV per_us, limit, n (negative: a debt).
var returnBucket = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local iv = tonumber(ARGV[1]) / tonumber(ARGV[2])
local tat = math.max(tonumber(v), now) - tonumber(ARGV[3]) * iv
if tat <= now then redis.call('DEL', KEYS[1]) return 1 end
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return 1
`)

// leaseQuota: KEYS[1] counter; ARGV limit, want, min, reserve, expire_at_ms.
// Returns {granted, 0, remaining, 0, now_us}.
var leaseQuota = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit, want, min, reserve = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(want, limit - reserve - used)
if grant < min then return {0, 0, math.max(limit - used, 0), 0, now} end
redis.call('INCRBY', KEYS[1], grant)
redis.call('PEXPIREAT', KEYS[1], ARGV[5])
return {grant, 0, limit - used - grant, 0, now}
`)

// returnQuota: KEYS[1] counter; ARGV n (negative: a debt).
var returnQuota = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local used = math.max(tonumber(v) - tonumber(ARGV[1]), 0)
redis.call('SET', KEYS[1], used, 'KEEPTTL')
return 1
`)

// grant is a lease script's answer.
type grant struct {
	n, remaining int64
	wait, reset  time.Duration
	now          int64 // Redis's time, µs since the epoch
}

// shared talks to Redis for a Limiter's Shared rules, and keeps what it
// knows of Redis's health and clock.
type shared struct {
	l   *Limiter
	rdb redis.UniversalClient
	// downUntil: Redis failed; until this time (local time base) no
	// decision waits for it. backoff doubles from 250ms to 5s while it
	// keeps failing.
	downUntil atomic.Int64
	backoff   atomic.Int64
	offset    atomic.Int64 // Redis's clock minus the local clock, ns
	offsetSet atomic.Bool
}

const (
	minBackoff = 250 * time.Millisecond
	maxBackoff = 5 * time.Second
)

func newShared(l *Limiter) *shared { return &shared{l: l, rdb: l.cfg.Redis} }

// up reports whether Redis may be asked now.
func (s *shared) up(now int64) bool { return now >= s.downUntil.Load() }

// failed notes a failed command: Redis is not asked again for a backoff.
func (s *shared) failed(now int64) {
	s.l.stats.redisErrors.Add(1)
	b := s.backoff.Load()
	b = min(max(2*b, int64(minBackoff)), int64(maxBackoff))
	s.backoff.Store(b)
	s.downUntil.Store(now + b)
}

func (s *shared) succeeded(g grant) {
	if s.backoff.Load() != 0 {
		s.backoff.Store(0)
	}
	local := s.l.clock.Now().UnixNano()
	s.offset.Store(g.now*1000 - local)
	s.offsetSet.Store(true)
}

// redisTime returns the time by Redis's clock, as the local clock and the
// last offset learnt say; it asks Redis when no offset is known yet.
func (s *shared) redisTime(ctx context.Context) (time.Time, error) {
	if !s.offsetSet.Load() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.l.cfg.RedisTimeout)
		defer cancel()
		s.l.stats.redisCalls.Add(1)
		t, err := s.rdb.Time(ctx).Result()
		if err != nil {
			return time.Time{}, err
		}
		s.offset.Store(t.UnixNano() - s.l.clock.Now().UnixNano())
		s.offsetSet.Store(true)
	}
	return s.l.clock.Now().Add(time.Duration(s.offset.Load())), nil
}

// run runs a lease script within RedisTimeout. The caller's cancellation
// does not cut it short: a grant Redis made and this instance never heard
// of would be stranded until it refills.
func (s *shared) run(ctx context.Context, sc *redis.Script, key string, args ...any) (grant, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.l.cfg.RedisTimeout)
	defer cancel()
	s.l.stats.redisCalls.Add(1)
	v, err := sc.Run(ctx, s.rdb, []string{key}, args...).Int64Slice()
	if err != nil {
		return grant{}, err
	}
	if len(v) != 5 {
		return grant{}, errBadReply
	}
	g := grant{n: v[0], wait: time.Duration(v[1]) * time.Microsecond, remaining: v[2],
		reset: time.Duration(v[3]) * time.Microsecond, now: v[4]}
	s.succeeded(g)
	return g, nil
}

var errBadReply = configError("unexpected reply from a lease script")

// give returns n units (negative: a debt) to the shared state of key.
func (s *shared) give(ctx context.Context, c *compiled, key string, n, lim int64) error {
	ctx, cancel := context.WithTimeout(ctx, s.l.cfg.RedisTimeout)
	defer cancel()
	s.l.stats.redisCalls.Add(1)
	var err error
	if c.quota {
		err = returnQuota.Run(ctx, s.rdb, []string{key}, n).Err()
	} else {
		err = returnBucket.Run(ctx, s.rdb, []string{key}, c.per.Microseconds(), lim, n).Err()
	}
	if err != nil && err != redis.Nil {
		s.l.stats.redisErrors.Add(1)
		return err
	}
	return nil
}

// redisKey names the shared state of one key of rule c: the rule's name and
// a digest of its dimension values (which may be long, or anything).
func (s *shared) redisKey(c *compiled, k key) string {
	h := sha256.New()
	for i := range c.Dimensions {
		h.Write([]byte(strconv.Itoa(len(k[i]))))
		h.Write([]byte{':'})
		h.Write([]byte(k[i]))
	}
	return s.l.cfg.Prefix + c.Name + ":" + hex.EncodeToString(h.Sum(nil)[:16])
}

// periodID names the day or month holding t, in the Limiter's time zone.
func periodID(t time.Time, per Period, loc *time.Location) string {
	if per == Month {
		return t.In(loc).Format("2006-01")
	}
	return t.In(loc).Format("2006-01-02")
}
