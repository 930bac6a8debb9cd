package cache

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// within polls cond until it holds or d passes, and reports whether it
// held: for what must happen within a bound across instances.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func twoInstances(t *testing.T, st *testStore) (a, b *Cache[string, string]) {
	rdb, prefix := redisForTest(t)
	cfg := Config{Redis: rdb, RedisPrefix: prefix}
	return newTestCache(t, st, cfg), newTestCache(t, st, cfg)
}

func TestRedisRevocationOnARefusedOnBWithinOneSecond(t *testing.T) {
	k := digest(1)
	st := newTestStore(k, "meta")
	a, b := twoInstances(t, st)
	ctx := context.Background()
	for _, c := range []*Cache[string, string]{a, b} {
		_, err := c.Get(ctx, k)
		require.NoError(t, err)
	}
	st.del(k)
	require.NoError(t, a.Invalidate(ctx, k))
	_, err := a.Get(ctx, k)
	assert.ErrorIs(t, err, ErrNotFound, "refused at once on the instance that revoked it")
	assert.True(t, within(time.Second, func() bool {
		_, err := b.Get(ctx, k)
		return err == ErrNotFound
	}), "instance B still serves the revoked key after 1 s")
}

func TestRedisKeyAddedOnAAcceptedOnBWithinOneSecond(t *testing.T) {
	k := digest(2)
	st := newTestStore()
	a, b := twoInstances(t, st)
	ctx := context.Background()
	_, err := b.Get(ctx, k)
	require.ErrorIs(t, err, ErrNotFound, "the filter refuses a key not created yet")
	st.put(k, "meta")
	require.NoError(t, a.Added(ctx, k))
	assert.True(t, within(time.Second, func() bool {
		v, err := b.Get(ctx, k)
		return err == nil && v == "meta"
	}), "instance B still refuses the new key after 1 s")
}

func TestRedisSecondInstanceReadsTheSharedLevel(t *testing.T) {
	k := digest(3)
	stA, stB := newTestStore(k, "meta"), newTestStore(k, "meta")
	rdb, prefix := redisForTest(t)
	cfg := Config{Redis: rdb, RedisPrefix: prefix}
	a, b := newTestCache(t, stA, cfg), newTestCache(t, stB, cfg)
	ctx := context.Background()
	_, err := a.Get(ctx, k)
	require.NoError(t, err)
	v, err := b.Get(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, "meta", v)
	assert.EqualValues(t, 1, stA.loads.Load())
	assert.Zero(t, stB.loads.Load(), "B found it in Redis")
}

// Case 28 across instances: a load in flight on A when B invalidates
// cannot write the old value into Redis for the others to read.
func TestRedisInFlightLoadCannotPutTheOldValueBackInRedis(t *testing.T) {
	k := digest(4)
	stA := newTestStore(k, "old")
	stA.gate = make(chan struct{})
	stA.entered = make(chan string, 1)
	stB := newTestStore(k, "old")
	rdb, prefix := redisForTest(t)
	cfg := Config{Redis: rdb, RedisPrefix: prefix}
	a, b := newTestCache(t, stA, cfg), newTestCache(t, stB, cfg)
	ctx := context.Background()

	got := make(chan string, 1)
	go func() { v, _ := a.Get(ctx, k); got <- v }()
	<-stA.entered // A has read Redis (nothing there) and is loading
	stB.put(k, "new")
	require.NoError(t, b.Invalidate(ctx, k))
	close(stA.gate)
	assert.Equal(t, "old", <-got)

	v, err := b.Get(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, "new", v)
	assert.EqualValues(t, 1, stB.loads.Load(), "B loaded from its store: Redis did not hold A's old value")
	raw, err := rdb.Get(ctx, prefix+"v:"+k).Result()
	require.NoError(t, err)
	assert.Contains(t, raw, "new")
}

func TestRedisUnreachableFailsNew(t *testing.T) {
	bad := newUnreachableRedis()
	defer bad.Close()
	_, err := New[string, string](newTestStore(), Config{Redis: bad, LoadTimeout: 200 * time.Millisecond})
	assert.ErrorContains(t, err, "subscribing")
}

// An invalidation published while B's subscription is down is missed: when
// B subscribes again it forgets everything, so the revoked key is refused.
func TestRedisLostSubscriptionForgetsEverythingOnReconnect(t *testing.T) {
	k := digest(5)
	st := newTestStore(k, "meta")
	rdb, prefix := redisForTest(t)
	a := newTestCache(t, st, Config{Redis: rdb, RedisPrefix: prefix})
	bClient := redis.NewClient(&redis.Options{Addr: rdb.(*redis.Client).Options().Addr, ClientName: "t" + strings.ReplaceAll(prefix, ":", "")})
	defer bClient.Close()
	b := newTestCache(t, st, Config{Redis: bClient, RedisPrefix: prefix})
	ctx := context.Background()
	_, err := b.Get(ctx, k)
	require.NoError(t, err)

	list, err := rdb.ClientList(ctx).Result()
	require.NoError(t, err)
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, "name="+bClient.Options().ClientName+" ") && strings.Contains(line, "cmd=subscribe") {
			id := strings.TrimPrefix(strings.Fields(line)[0], "id=")
			require.NoError(t, rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err())
			killed++
		}
	}
	require.Equal(t, 1, killed, "B's subscription connection")
	st.del(k)
	require.NoError(t, a.Invalidate(ctx, k))
	assert.True(t, within(time.Second, func() bool {
		_, err := b.Get(ctx, k)
		return err == ErrNotFound
	}), "B still serves the revoked key 1 s after its subscription came back")
}
