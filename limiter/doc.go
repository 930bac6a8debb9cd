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
// or Config.DefaultMaxTokens) and settled to the usage the gateway records
// when the call ends, or refunded when it ends with none, so concurrent calls
// cannot overrun a token limit and no hold outlives its call. Refusals are
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
// lease, and every lease at Close. Priority shares apply where a lease is
// granted. Redis's own clock (TIME) decides, so skewed instance clocks agree.
// When Redis cannot be reached within RedisTimeout (200ms), each rule fails
// open or closed as it says, counted in Stats, and Redis is asked again after
// a backoff of 250ms doubling to 5s.
package limiter
