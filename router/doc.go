// Package router holds Router, a gateway.Provider made of Providers: weighted
// routing over targets in tiers, with fallback to the next target when one
// fails in a way another may not.
//
// Each Target (a Provider with a weight, a tier, the models it serves and
// renames, a circuit breaker and its own middlewares) takes a share of its
// tier's traffic by Strategy: smooth weighted round-robin (default), weighted
// random, least in flight, or latency-aware. A call that fails in a way
// another target may not (5xx, reset, timeout, 429, a dead key, a stream that
// breaks or stalls before its first token) moves to the next eligible target,
// bounded by the targets, the retry Budget and the caller's deadline; a
// target whose breaker is open or cooling down (after a 429, for its
// Retry-After) is passed over, as is one failing its active health check
// (Target.Healthy, from package health) while another passes, and
// rate-limit headers steer calls away before a 429. Update swaps targets and weights atomically (a canary is a weight);
// /v1/models lists the union of the targets' models. ExampleNew is this
// sample, runnable:
//
//	rtr, err := router.New("llm", []router.Target{
//		{Provider: primary, Weight: 1},
//		{Provider: backup, Weight: 1, Tier: 1, ModelMap: map[string]string{"gpt-4.1": "claude-sonnet-4.5"}},
//	}, router.Config{})
//	client := openai.NewClient(option.WithHTTPClient(gateway.NewClient(rtr)), option.WithMaxRetries(0))
//
// The router records no attempt itself: each target's Provider sits behind
// an attempt boundary of its own, at the bottom of the target's middlewares,
// which records every upstream try under the target's name with the model
// sent. Share one breaker.Budget between the router and the breaker.Retry
// around it, so retries and fallbacks draw on one account.
package router
