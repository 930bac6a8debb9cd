// Package tracing makes OpenTelemetry spans of the gateway's calls: one
// span per call and, as its children, one CLIENT span per attempt (each
// retry, fallback and hedge that reached a provider), named and described
// by the GenAI semantic conventions ("{gen_ai.operation.name}
// {gen_ai.request.model}", gen_ai.usage.*, gen_ai.response.model,
// server.address, error.type) with the gateway's own facts under llmgate.*.
// The caller's trace (traceparent) is honoured on the way in and sent on
// upstream. No span holds a key, and none holds a prompt unless
// Config.CaptureContent says so; no completion is ever recorded.
//
// The pieces and where they go (Middleware values run outermost first, as
// everywhere in the gateway):
//
//   - Tracer.Handler, around gateway.NewHandler: reads the incoming trace
//     (server mode; in client mode the caller's context is the parent);
//   - Tracer.Middleware, first in the chain: the call span, ended with the
//     call's final usage and result;
//   - Tracer.Attempt, last in each router target's Middlewares (below
//     breaker.Hedge) or last over a single Provider: the attempt spans;
//   - Tracer.Transport, as each provider's Transport: the attempt span's
//     trace in the upstream request's traceparent, and server.address.
//
// The gateway's records stay their owners': an attempt span reports the
// gateway.Attempt its boundary recorded (through internal/hooks.OnAttempt),
// a call span the Call's usage, result and served target at its end
// (internal/hooks.OnEnd). gen_ai.provider.name is the target's name, the
// gateway's only name for a provider; gen_ai.response.finish_reasons is not
// recorded, since the gateway does not parse answers beyond their usage.
//
// Cost: a call that is not sampled spends a few allocations on its spans
// (BenchmarkTracingOff against BenchmarkTracingNone; see the README), and
// an attempt under an unsampled call span starts no span at all.
//
// Wiring from configuration (the intended shape of the main job's
// "tracing:" section; export is off unless an endpoint is set, and the
// zero Config makes no connection):
//
//	tp, err := tracing.NewProvider(ctx, tracing.ExportConfig{
//		Endpoint: "127.0.0.1:4318", Protocol: tracing.ProtocolHTTP, Insecure: true, SampleRatio: new(0.1),
//	})
//	if err != nil {
//		return err
//	}
//	defer tp.Shutdown(context.Background())
//	tr, err := tracing.New(tracing.Config{TracerProvider: tp})
//	if err != nil {
//		return err
//	}
//	openai, err := provider.NewOpenAI(provider.OpenAIConfig{BaseURL: base, APIKey: key, Transport: tr.Transport(provider.NewTransport())})
//	if err != nil {
//		return err
//	}
//	rtr, err := router.New("llm", []router.Target{
//		{Provider: openai, Weight: 1, Middlewares: []gateway.Middleware{breaker.Hedge(...), tr.Attempt()}},
//	}, router.Config{})
//	if err != nil {
//		return err
//	}
//	h := tr.Handler(gateway.NewHandler(gateway.Chain(rtr, tr.Middleware(), auth, limits, meter, retry)))
package tracing
