// Package breaker keeps one failing AI provider from taking a service down:
// error classification, Retry-After parsing, circuit breaking, retries with
// backoff and a retry budget, timeouts that do not cut healthy streams,
// failover before a stream's first content, hedging, and bulkheads.
//
// Every piece is a gateway.Middleware, func(next http.RoundTripper)
// http.RoundTripper; in gateway.Chain the first middleware is the
// outermost. The usual order, outermost first:
//
//	Retry                  attempts, backoff, Retry-After, budget, deadline
//	  Hedge                (optional) a second attempt for slow calls
//	    router.Router    (optional) picks a target, fails over
//	      per target: CircuitBreaker, Bulkhead, Timeouts
//	        Provider
//
// Over a single provider (Example is this sample, runnable):
//
//	cb, err := breaker.NewCircuitBreaker("sim", breaker.Config{})
//	retry, err := breaker.Retry(breaker.RetryConfig{})
//	timeouts, err := breaker.Timeouts(breaker.TimeoutConfig{FirstToken: 20 * time.Second})
//	rt := gateway.Chain(sim, retry, cb.Middleware(), timeouts)
//	client := gateway.NewClient(rt) // openai-go: option.WithHTTPClient(client), option.WithMaxRetries(0)
//
// Every constructor returns an error for an invalid configuration (each
// Config has Validate); only a nil next panics.
//
// Classify is the one table that decides what an outcome means: success,
// retryable, fatal (400, 401, 403, 404, 413, 422…), rate limited (429),
// overloaded (503, 529), or the caller's own cancellation, which is never a
// failure and never retried. Every middleware here uses it unless
// configured otherwise. A 429 does not count against a circuit breaker; its
// Retry-After starts a cooldown instead.
//
// One Budget should be shared by the Retry, Hedge and router of a service:
// retries, hedges and fallbacks all withdraw from it, so that when
// everything fails the attempts stay near (1+Ratio) per call. Each layer
// credits it with Budget.OnCall, which deposits once per call however many
// layers share it.
//
// failsafe-go: the adaptive Bulkhead (BulkheadConfig.Adaptive) is
// failsafe-go's adaptivelimiter, one permit per call, recorded (a success)
// or dropped (a failure or a cancellation) exactly once when the body is
// closed or the call fails. The CircuitBreaker follows failsafe-go's model
// but is this package's own, because failsafe-go v0.9.8's breaker keeps its
// clock in an unexported field (so an injected gateway.Clock cannot drive
// its delay), cannot give back a cancelled half-open probe without
// recording a result, and admits more than HalfOpenProbes probes as earlier
// ones finish. BenchmarkBreakerVsFailsafe measures the two side by side.
//
// Attempts and streams are not this package's: the attempt boundary in
// front of each Provider (gateway.Chain) records every attempt and holds a
// 2xx answer to a stream call until its first content event. Retry and Hedge repeat the
// chain below them and never record; a stream that fails or stalls before its
// first content reaches them as a failed round trip, so it is retried, or
// moved to another target, with nothing sent to the caller; after it, nothing
// is ever retried and a failure reaches the caller as a read error (in server
// mode, a terminal SSE error event).
//
// The CircuitBreaker is the one store of a target's cooldown: a 429 or 503
// with a Retry-After, or a 429 without one, makes it refuse calls for that
// long (ErrCoolingDown), and Config.MaxRetryAfter is the one ceiling on a
// Retry-After. A router reads it through Ready.
//
// Everything reads time from an injectable gateway.Clock, with one
// documented exception: failsafe-go's adaptive limiter measures call
// latencies with its own wall clock (a Bulkhead's MaxWait still reads the
// injected Clock). Everything a call holds (a breaker permit, a bulkhead
// slot, a watchdog's deadline, a hedge's attempts) is released exactly once,
// when its RoundTrip fails or its response body is closed or read to its
// end.
package breaker
