// Package gateway makes calls to AI model providers survive scale, faults and
// abuse, in-process: an embeddable library, not a proxy.
//
// Everything is an http.RoundTripper. A Provider is a RoundTripper that
// speaks the OpenAI wire format; a Middleware wraps one RoundTripper in
// another; Chain composes them, the first middleware outermost, and puts the
// Provider at the bottom behind the attempt boundary:
//
//	rt := gateway.Chain(sim, logCalls, retry) // logCalls(retry(boundary(sim)))
//
// Two entry points put a chain to work. NewClient gives an AI SDK an
// *http.Client, so the SDK gets the chain without changing a call; NewHandler
// serves an OpenAI-compatible API from a service's own mux:
//
//	client := openai.NewClient(
//		option.WithHTTPClient(gateway.NewClient(rt)),
//		option.WithMaxRetries(0), // the chain owns retries
//	)
//	mux.Handle("/v1/", gateway.NewHandler(rt))
//
// (Example is this sample, runnable.)
//
// Each fact about a call has one owner. The entry point reads the request
// body once and parses it into a Call (model, stream, max_tokens, a
// prompt-token estimate) carried in the request context; middlewares read it
// with CallFrom instead of parsing the body again. What an attempt sends is
// its Outbound (OutboundFrom), changed only by WithModel and WithBody. The
// attempt boundary in front of each Provider records every Attempt and holds
// a stream until its first content, so a layer above may retry or fail over
// with nothing sent to the caller; Retry, Hedge and the router only repeat
// what is below them. The entry point records the call's Usage as the caller
// reads the response (the provider's report, or an estimate flagged
// Estimated) and tells the observers (WithObserver) once the call has ended.
//
// Errors the gateway produces itself are *Error values with an HTTP status
// and an OpenAI-style body; match them with errors.Is against the Err…
// sentinels, or, from an HTTP response, with ErrorFromResponse. The
// subpackages hold the capabilities: provider (adapters), router (weighted
// routing and fallback), breaker (circuit breaking, retries, timeouts),
// gatewaytest (a simulated provider, a fault-injecting upstream, a fake
// clock).
package gateway
