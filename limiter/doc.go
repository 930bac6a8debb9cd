// Package limiter keeps one tenant, one key or one burst from taking the
// capacity others were promised, and keeps upstream accounts under their own
// limits: request, token and concurrency limits, daily and monthly quotas and
// priority groups, decided locally or shared by a fleet through Redis.
//
// A Limiter holds Rules. Each rule counts one Unit (requests, tokens, calls in
// flight) per Period (a token bucket per second, minute or hour; a calendar
// quota per day or month in Config.Location), kept per the values of its
// Dimensions (none: one limit for all; KeyID, Tenant, Model, Target, or a
// combination such as Tenant × Model). A call is admitted only when every rule
// that applies admits it.
//
// Its Middleware goes in the server chain after authentication (the default
// order is handler → auth → limiter → billing.Meter → Retry → Router), and
// its Target middleware in front of each router target, for the provider
// account's own RPM and TPM:
//
//	lim, err := limiter.New(limiter.Config{Rules: []limiter.Rule{
//		{Name: "key-rpm", Dimensions: []limiter.Dimension{limiter.KeyID}, Unit: limiter.Requests, Limit: 60, Per: limiter.Minute},
//		{Name: "gpt41-tpm", Dimensions: []limiter.Dimension{limiter.KeyID}, Models: []string{"gpt-4.1"}, Unit: limiter.Tokens, Limit: 20000, Per: limiter.Minute},
//		{Name: "openai-rpm", Dimensions: []limiter.Dimension{limiter.Target}, Unit: limiter.Requests, Limit: 500, Per: limiter.Minute},
//	}})
//	if err != nil { … }
//	defer lim.Close()
//	rt := gateway.Chain(router, lim.Middleware())
//	// and router.Target{…, Middlewares: []gateway.Middleware{lim.Target("openai")}}
//
// Tokens are reserved before the call (the prompt estimate plus max_tokens,
// or Config.DefaultMaxTokens; an embedding's prompt alone; nothing, and no
// token rule applies, for a call that spends none, such as the model list)
// and settled to the usage the gateway records when the call ends, or
// refunded when it ends with none, so concurrent calls cannot overrun a
// token limit and no hold outlives its call. Refusals are
// ErrRateLimited and ErrQuotaExceeded: 429 with a Retry-After computed from
// the limit, in OpenAI's error shape, with the x-ratelimit-* headers.
//
// A Shared rule lives in Redis and is decided with leases: each instance takes
// a slice of the limit from Redis in one atomic script and spends it locally,
// so most decisions never touch Redis, and the sum of what the instances hold
// and have spent never exceeds the limit: the fleet admits what one bucket
// would, not the limit times the replicas. A lease is at most MaxLeaseShare
// (5%) of the limit's capacity and at least what the call at hand needs; it
// starts at a quarter of that and adapts to the instance's traffic at each
// refill, doubled when the last one lasted less than LeaseFor (200ms),
// halved when it lasted over four times that. Near the limit Redis grants
// what is left, so the last units are shared out. Units unused for LeaseIdle
// (1s) go back to Redis, as do a settlement's leftovers beyond twice the
// lease, and every lease at Close or when an Update drops its rule (after
// which decisions on it take from Redis only what they need). Priority
// shares apply where a lease is granted. Redis's own clock (TIME) decides,
// so skewed instance clocks agree.
// When Redis cannot be reached within RedisTimeout (200ms), each rule fails
// open or closed as it says, counted in Stats, and Redis is asked again after
// a backoff of 250ms doubling to 5s.
//
// # Why a bucket is not a rate.Limiter
//
// The design card names golang.org/x/time/rate for local limits. A bucket
// here is one word updated by compare-and-swap (GCRA) that admits exactly
// what a rate.Limiter of the same rate and burst admits: the tests hold it
// to rate.Limiter as their oracle (TestBucketAgreesWithRateLimiter), and the
// benchmarks measure it against rate.Limiter.Allow. Production code uses no
// rate.Limiter, by decision: a decision needs what rate.Limiter gives only
// at a cost. Units go back when a later rule refuses the call or a token
// reservation settles below its estimate (rate.Limiter gives back only
// through a *Reservation, one allocation a call); a priority group takes
// only while the reserve of the groups above it is left (no atomic form in
// rate.Limiter); and every answer tells what is left (TokensAt, a second
// lock). No rule escapes the last need, not even a request bucket that is
// the only rule and so never gives back: BenchmarkLocalDecisionRatio
// measures rate.Limiter used that way (AllowN, then TokensAt for the
// headers, no key lookup) at 1.14× Allow on one core and 1.09× on two
// (medians of 5), where the keyed decision here runs at 0.93× and 0.91×,
// both with no allocation. A second kind of bucket for such rules would also
// split one fact (what a limit has used) between two representations,
// which Update would have to convert whenever a rule is added or removed.
package limiter
