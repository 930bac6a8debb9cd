// Package gateway makes calls to AI model providers survive scale, faults and
// abuse, in-process: an embeddable library, not a proxy.
//
// Everything is an http.RoundTripper. A Provider is a RoundTripper that
// speaks the OpenAI wire format; a Middleware wraps one RoundTripper in
// another; Chain composes them, the first middleware outermost:
//
//	rt := gateway.Chain(provider, limit, meter, retry) // limit(meter(retry(provider)))
//
// Two entry points put a chain to work. NewClient (or NewTransport) gives an
// AI SDK an *http.Client, so the SDK gets the chain without changing a call:
//
//	client := openai.NewClient(
//		option.WithHTTPClient(gateway.NewClient(rt)),
//		option.WithMaxRetries(0), // the chain owns retries
//	)
//
// NewHandler serves an OpenAI-compatible API from a service's own mux:
//
//	mux.Handle("/v1/", gateway.NewHandler(rt))
//
// Either entry point reads the request body once and parses it into a Call
// (model, stream, max_tokens, a prompt-token estimate) carried in the request
// context; middlewares read it with CallFrom instead of parsing the body
// again. As the caller reads the response, the entry point records the
// call's Usage: the provider's report, or an estimate flagged Estimated.
//
// Errors the gateway produces itself are *Error values with an HTTP status
// and an OpenAI-style body; match them with errors.Is against the Err…
// sentinels. The subpackages hold the capabilities: provider (adapters, the
// simulator, the router), breaker (circuit breaking, retries, timeouts),
// gatewaytest (a fault-injecting upstream for tests).
package gateway
