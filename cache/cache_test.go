package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestCache(t testing.TB, l Loader[string, string], cfg Config) *Cache[string, string] {
	t.Helper()
	c, err := New(l, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGetLoadsOnceThenHits(t *testing.T) {
	st := newTestStore("a", "1")
	c := newTestCache(t, st, Config{})
	ctx := context.Background()
	for range 3 {
		v, err := c.Get(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, "1", v)
	}
	assert.EqualValues(t, 1, st.loads.Load())
	s := c.Stats()
	assert.EqualValues(t, 1, s.Loads)
}

func TestGetUnknownKeyIsNotFoundWithoutALoad(t *testing.T) {
	st := newTestStore("a", "1")
	c := newTestCache(t, st, Config{})
	_, err := c.Get(context.Background(), "b")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Zero(t, st.loads.Load(), "the filter answers for a key that was never listed")
	assert.EqualValues(t, 1, c.Stats().Rejected)
}

func TestSixtyFourConcurrentMissesLoadOnce(t *testing.T) {
	st := newTestStore("a", "1")
	st.gate = make(chan struct{})
	c := newTestCache(t, st, Config{})
	var started, done sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		started.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			v, err := c.Get(context.Background(), "a")
			if err == nil && v != "1" {
				err = fmt.Errorf("got %q", v)
			}
			errs <- err
		}()
	}
	started.Wait()
	close(st.gate) // whenever each Get arrives, it joins the load or hits its result
	done.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1, st.loads.Load())
}

func TestGetCallerLeavingDoesNotFailTheLoadOthersWaitFor(t *testing.T) {
	st := newTestStore("a", "1")
	st.gate = make(chan struct{})
	st.entered = make(chan string, 1)
	c := newTestCache(t, st, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := c.Get(ctx, "a"); first <- err }()
	<-st.entered
	cancel()
	assert.ErrorIs(t, <-first, context.Canceled)
	close(st.gate)
	v, err := c.Get(context.Background(), "a")
	require.NoError(t, err)
	assert.Equal(t, "1", v)
	assert.EqualValues(t, 1, st.loads.Load())
}

// Case 28: a revocation works at once, and a load in flight when it
// happens cannot put the old value back.
func TestInvalidateDuringLoadDoesNotPutOldValueBack(t *testing.T) {
	st := newTestStore("a", "old")
	st.gate = make(chan struct{})
	st.entered = make(chan string, 2)
	c := newTestCache(t, st, Config{})
	got := make(chan string, 1)
	go func() { v, _ := c.Get(context.Background(), "a"); got <- v }()
	<-st.entered
	// The load has read nothing yet; make it return the old value after
	// the revocation by holding the store's answer.
	st.mu.Lock()
	require.NoError(t, c.Invalidate(context.Background(), "a"))
	close(st.gate)
	st.mu.Unlock()
	assert.Equal(t, "old", <-got, "the Get that started before the revocation gets its load's answer")

	st.put("a", "new")
	v, err := c.Get(context.Background(), "a")
	require.NoError(t, err)
	assert.Equal(t, "new", v, "the load in flight stored nothing")
	assert.EqualValues(t, 2, st.loads.Load())
}

func TestInvalidateForgetsAtOnce(t *testing.T) {
	st := newTestStore("a", "1")
	c := newTestCache(t, st, Config{})
	ctx := context.Background()
	_, err := c.Get(ctx, "a")
	require.NoError(t, err)
	st.del("a")
	require.NoError(t, c.Invalidate(ctx, "a"))
	_, err = c.Get(ctx, "a")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.EqualValues(t, 2, st.loads.Load())
}

func TestStaleWhileRevalidateRefreshesOncePerExpiry(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	st := newTestStore("a", "v1")
	c := newTestCache(t, st, Config{Clock: clk, Rules: Rules{TTL: time.Minute, StaleFor: time.Minute}})
	ctx := context.Background()
	_, err := c.Get(ctx, "a")
	require.NoError(t, err)

	for round, want := range []string{"v2", "v3"} {
		st.put("a", want)
		st.gate = make(chan struct{})
		clk.Advance(61 * time.Second) // past the TTL, within StaleFor
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v, err := c.Get(ctx, "a")
				assert.NoError(t, err)
				assert.NotEqual(t, want, v, "the stale value is served while the refresh runs")
			}()
		}
		wg.Wait()
		close(st.gate)
		waitFor(t, func() bool { return c.Stats().LoadsInFlight == 0 })
		assert.EqualValues(t, round+2, st.loads.Load(), "one refresh for this expiry")
		v, err := c.Get(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, want, v)
		assert.EqualValues(t, round+2, st.loads.Load())
	}
	st.gate = nil
}

func TestExpiredPastStaleForLoadsBeforeAnswering(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	st := newTestStore("a", "v1")
	c := newTestCache(t, st, Config{Clock: clk, Rules: Rules{TTL: time.Minute, StaleFor: time.Second}})
	ctx := context.Background()
	_, err := c.Get(ctx, "a")
	require.NoError(t, err)
	st.put("a", "v2")
	clk.Advance(2 * time.Minute)
	v, err := c.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "v2", v)
}

func TestNegativeCacheIsBoundedAndExpires(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	st := newTestStore()
	c := newTestCache(t, loaderOnly{st}, Config{Clock: clk, Shards: 4,
		Rules: Rules{NegativeSize: 64, NegativeTTL: 10 * time.Second}})
	ctx := context.Background()
	for i := range 1000 {
		_, err := c.Get(ctx, fmt.Sprint("missing-", i))
		require.ErrorIs(t, err, ErrNotFound)
	}
	assert.EqualValues(t, 1000, st.loads.Load(), "without a filter every new key is asked once")
	assert.LessOrEqual(t, c.Stats().NegEntries, 64)

	_, err := c.Get(ctx, "missing-999")
	require.ErrorIs(t, err, ErrNotFound)
	assert.EqualValues(t, 1000, st.loads.Load(), "a recent not-found is answered from the negative cache")
	clk.Advance(11 * time.Second)
	_, err = c.Get(ctx, "missing-999")
	require.ErrorIs(t, err, ErrNotFound)
	assert.EqualValues(t, 1001, st.loads.Load(), "an expired not-found is asked again")
}

func TestAddedAdmitsAKeyTheFilterRefused(t *testing.T) {
	st := newTestStore()
	c := newTestCache(t, st, Config{})
	ctx := context.Background()
	_, err := c.Get(ctx, "k")
	require.ErrorIs(t, err, ErrNotFound)
	st.put("k", "v")
	require.NoError(t, c.Added(ctx, "k"))
	v, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", v)
}

func TestAddedForgetsANotFoundAnswer(t *testing.T) {
	st := newTestStore()
	c := newTestCache(t, loaderOnly{st}, Config{})
	ctx := context.Background()
	_, err := c.Get(ctx, "k")
	require.ErrorIs(t, err, ErrNotFound)
	st.put("k", "v")
	require.NoError(t, c.Added(ctx, "k"))
	v, err := c.Get(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "v", v)
}

func TestLoaderErrorIsReturnedAndNotCached(t *testing.T) {
	boom := errors.New("db down")
	var calls int
	l := LoaderFunc[string, string](func(context.Context, string) (string, error) { calls++; return "", boom })
	c := newTestCache(t, l, Config{})
	for range 2 {
		_, err := c.Get(context.Background(), "a")
		assert.ErrorIs(t, err, boom)
	}
	assert.Equal(t, 2, calls)
}

func TestLoaderPanicIsAnError(t *testing.T) {
	l := LoaderFunc[string, string](func(context.Context, string) (string, error) { panic("bad loader") })
	c := newTestCache(t, l, Config{})
	_, err := c.Get(context.Background(), "a")
	assert.ErrorContains(t, err, "loader panicked")
}

func TestSetRulesOffLoadsEveryTimeAndShrinkEvicts(t *testing.T) {
	st := newTestStore()
	for i := range 100 {
		st.put(fmt.Sprint(i), "v")
	}
	c := newTestCache(t, st, Config{Shards: 1})
	ctx := context.Background()
	for i := range 100 {
		_, err := c.Get(ctx, fmt.Sprint(i))
		require.NoError(t, err)
	}
	require.Equal(t, 100, c.Stats().Entries)
	require.NoError(t, c.SetRules(Rules{Size: 10}))
	assert.Equal(t, 10, c.Stats().Entries)
	assert.Equal(t, 10, c.Rules().Size)

	require.NoError(t, c.SetRules(Rules{Off: true}))
	before := st.loads.Load()
	for range 3 {
		_, err := c.Get(ctx, "1")
		require.NoError(t, err)
	}
	assert.EqualValues(t, before+3, st.loads.Load())
	assert.Zero(t, c.Stats().Entries)
	assert.Error(t, c.SetRules(Rules{TTL: -1}))
}

func TestConfigValidateReportsEveryBadField(t *testing.T) {
	err := Config{Shards: 3, FalsePositiveRate: 0.5, LoadTimeout: -1, Rules: Rules{TTL: -1, Jitter: 1, Size: -1}}.Validate()
	require.Error(t, err)
	for _, field := range []string{"Shards", "FalsePositiveRate", "LoadTimeout", "Rules.TTL", "Rules.Jitter", "Rules.Size"} {
		assert.ErrorContains(t, err, field)
	}
	assert.NoError(t, Config{}.Validate())
	_, err = New[string, string](newTestStore(), Config{Shards: 3})
	assert.Error(t, err)
}

func TestGetMissAfterCloseIsErrClosed(t *testing.T) {
	st := newTestStore("a", "1", "b", "2")
	c, err := New[string, string](st, Config{})
	require.NoError(t, err)
	_, err = c.Get(context.Background(), "a")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close())
	_, err = c.Get(context.Background(), "b")
	assert.ErrorIs(t, err, ErrClosed)
	v, err := c.Get(context.Background(), "a")
	assert.NoError(t, err)
	assert.Equal(t, "1", v)
}

func TestNewFailsWhenTheKeysCannotBeListed(t *testing.T) {
	_, err := New[string, string](failingKeys{}, Config{})
	assert.ErrorContains(t, err, "listing the keys")
}

type failingKeys struct{}

func (failingKeys) Load(context.Context, string) (string, error) { return "", ErrNotFound }
func (failingKeys) Keys(context.Context, func(string) error) error {
	return errors.New("db down")
}

// waitFor polls cond for at most 5 s; it is for background work whose end
// the test cannot otherwise see, and asserts nothing about time.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestJitterSpreadsTheExpiryOfValuesLoadedTogether(t *testing.T) {
	clk := gatewaytest.NewClock(epoch)
	st := newTestStore()
	for i := range 200 {
		st.put(fmt.Sprint(i), "v")
	}
	c := newTestCache(t, st, Config{Clock: clk, Rules: Rules{TTL: time.Minute, Jitter: 0.5}})
	ctx := context.Background()
	for i := range 200 {
		_, err := c.Get(ctx, fmt.Sprint(i))
		require.NoError(t, err)
	}
	clk.Advance(45 * time.Second) // within [TTL/2, TTL): some expired, some not
	for i := range 200 {
		_, err := c.Get(ctx, fmt.Sprint(i))
		require.NoError(t, err)
	}
	s := c.Stats()
	assert.Positive(t, s.StaleHits, "some expired before the TTL")
	assert.Less(t, s.StaleHits, int64(200), "some are still fresh")
}

// A hit moves no entry in the LRU (it only marks it touched): an entry in
// use still is never evicted, and one unused is, as in LRU (second
// chance).
func TestSecondChanceKeepsAnEntryInUse(t *testing.T) {
	st := newTestStore("hot", "v", "cold", "v")
	for i := range 1000 {
		st.put(fmt.Sprint(i), "v")
	}
	c := newTestCache(t, loaderOnly{st}, Config{Shards: 1, Rules: Rules{Size: 16}})
	ctx := context.Background()
	_, err := c.Get(ctx, "cold")
	require.NoError(t, err)
	for i := range 1000 {
		_, err := c.Get(ctx, "hot")
		require.NoError(t, err)
		_, err = c.Get(ctx, fmt.Sprint(i))
		require.NoError(t, err)
	}
	assert.EqualValues(t, 1002, st.loads.Load(), "hot was loaded once, each other key once")
	_, err = c.Get(ctx, "cold")
	require.NoError(t, err)
	assert.EqualValues(t, 1003, st.loads.Load(), "cold was evicted")
}
