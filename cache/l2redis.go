package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/llmgate/gateway/internal/clock"
)

// The Redis level keeps, for each key, its value (prefix "v:" key) and a
// generation (prefix "g:" key) that every Invalidate increments. A load
// reads both at once, and writes the value it loaded back only if the
// generation is still the one it read: a load that started before an
// Invalidate, on any instance, cannot put the old value back (case 28).
// The generation outlives any load (genTTLFactor × LoadTimeout).
const genTTLFactor = 10

// setIfGen writes a value if the key's generation is still ARGV[1].
var setIfGen = redis.NewScript(`
local g = redis.call('GET', KEYS[2]) or ''
if g ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)

// invalidateScript bumps the generation, deletes the value and tells every
// instance, in one step.
var invalidateScript = redis.NewScript(`
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1`)

// Event kinds on the channel: a message is the kind, the sending
// instance's id, then the key.
const (
	eventInvalidate = 'i'
	eventAdded      = 'a'
	idLen           = 16
)

// l2 is a Cache's Redis level and its subscription to the other
// instances' Added and Invalidate.
type l2[K ~string, V any] struct {
	c       *Cache[K, V]
	rdb     redis.UniversalClient
	ps      *redis.PubSub
	prefix  string
	channel string
	id      string
}

func newL2[K ~string, V any](c *Cache[K, V]) (*l2[K, V], error) {
	var id [idLen]byte
	_, _ = rand.Read(id[:])
	l := &l2[K, V]{c: c, rdb: c.cfg.Redis, prefix: c.cfg.RedisPrefix,
		channel: c.cfg.RedisPrefix + "events", id: string(id[:])}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.LoadTimeout)
	defer cancel()
	l.ps = l.rdb.Subscribe(ctx, l.channel)
	if _, err := l.ps.Receive(ctx); err != nil {
		l.ps.Close()
		return nil, fmt.Errorf("cache: subscribing to %s: %w", l.channel, err)
	}
	c.wg.Add(1)
	go l.listen()
	return l, nil
}

func (l *l2[K, V]) valueKey(key K) string { return l.prefix + "v:" + string(key) }
func (l *l2[K, V]) genKey(key K) string   { return l.prefix + "g:" + string(key) }

// get returns key's value and generation; found is false when Redis holds
// no value (or one that does not decode).
func (l *l2[K, V]) get(ctx context.Context, key K) (v V, gen string, found bool, err error) {
	vals, err := l.rdb.MGet(ctx, l.valueKey(key), l.genKey(key)).Result()
	if err != nil {
		return v, "", false, err
	}
	if g, ok := vals[1].(string); ok {
		gen = g
	}
	s, ok := vals[0].(string)
	if !ok {
		return v, gen, false, nil
	}
	if l.c.cfg.Codec.Unmarshal([]byte(s), &v) != nil {
		var zero V
		return zero, gen, false, nil
	}
	return v, gen, true, nil
}

// set writes v for key if its generation is still gen. Failing is left
// alone: the next miss loads again.
func (l *l2[K, V]) set(ctx context.Context, key K, gen string, v V) {
	b, err := l.c.cfg.Codec.Marshal(v)
	if err != nil {
		return
	}
	ms := max(1, l.c.rules.Load().TTL.Milliseconds())
	_ = setIfGen.Run(ctx, l.rdb, []string{l.valueKey(key), l.genKey(key)},
		gen, b, strconv.FormatInt(ms, 10)).Err()
}

func (l *l2[K, V]) event(kind byte, key K) string {
	return string(kind) + l.id + string(key)
}

func (l *l2[K, V]) invalidate(ctx context.Context, key K) error {
	genMs := max(1, (genTTLFactor * l.c.cfg.LoadTimeout).Milliseconds())
	err := invalidateScript.Run(ctx, l.rdb, []string{l.valueKey(key), l.genKey(key)},
		strconv.FormatInt(genMs, 10), l.channel, l.event(eventInvalidate, key)).Err()
	if err != nil {
		return fmt.Errorf("cache: invalidating on the other instances: %w", err)
	}
	return nil
}

func (l *l2[K, V]) added(ctx context.Context, key K) error {
	if err := l.rdb.Publish(ctx, l.channel, l.event(eventAdded, key)).Err(); err != nil {
		return fmt.Errorf("cache: telling the other instances: %w", err)
	}
	return nil
}

func (l *l2[K, V]) close() { l.ps.Close() }

// listenTimeout is how long the subscriber waits for a message before it
// pings, so that a dead connection is found and replaced.
const listenTimeout = 15 * time.Second

// listen applies the other instances' events here. When the subscription
// was lost (go-redis reconnects and subscribes again), events may have been
// missed: the cache forgets everything it holds and rebuilds its filter,
// so that a revoked key is not served and a new one is not refused for
// longer than the outage.
func (l *l2[K, V]) listen() {
	defer l.c.wg.Done()
	ctx := l.c.ctx
	lost := false
	for {
		msg, err := l.ps.ReceiveTimeout(ctx, listenTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if isTimeout(err) && l.ps.Ping(ctx) == nil {
				continue
			}
			lost = true
			_ = clock.Sleep(ctx, l.c.cfg.Clock, 100*time.Millisecond)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if lost {
				lost = false
				l.c.flush()
				if l.c.filter != nil {
					l.c.askRebuild()
				}
			}
		case *redis.Message:
			l.apply(m.Payload)
		}
	}
}

func (l *l2[K, V]) apply(payload string) {
	if len(payload) < 1+idLen || payload[1:1+idLen] == l.id {
		return
	}
	key := K(payload[1+idLen:])
	switch payload[0] {
	case eventInvalidate:
		l.c.forget(key)
	case eventAdded:
		l.c.admit(key)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}
