package anthropicwire

import "github.com/llmgate/gateway/internal/chatwire"

// Stop reasons and usage, the two facts both directions map.

// FinishReason maps an Anthropic stop_reason to OpenAI's finish_reason. An
// unknown reason (Anthropic adds them) is "stop", never a failure.
func FinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "refusal":
		return "content_filter"
	}
	return "stop" // end_turn, stop_sequence, pause_turn, and any new one
}

// StopReason maps an OpenAI finish_reason to Anthropic's stop_reason; an
// unknown one is end_turn.
func StopReason(finish string) string {
	switch finish {
	case "length":
		return "max_tokens"
	case "tool_calls", "function_call":
		return "tool_use"
	case "content_filter":
		return "refusal"
	}
	return "end_turn"
}

// chatUsageOf is u in OpenAI's terms: prompt_tokens counts every input
// token, the cache's reads and writes included, and the cache numbers go
// where the gateway reads them.
func chatUsageOf(u msgUsage) chatwire.Usage {
	prompt := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	out := chatwire.Usage{PromptTokens: prompt, CompletionTokens: u.OutputTokens, TotalTokens: prompt + u.OutputTokens,
		PromptDetails: &chatwire.PromptDetails{CachedTokens: u.CacheReadInputTokens, CacheWriteTokens: u.CacheCreationInputTokens}}
	if u.CacheCreation != nil {
		out.PromptDetails.CacheWrite1hTokens = u.CacheCreation.Ephemeral1h
	}
	return out
}

// msgUsageOf is u in Anthropic's terms: input_tokens without the cached
// tokens.
func msgUsageOf(u chatwire.Usage) msgUsage {
	var out msgUsage
	out.OutputTokens = u.CompletionTokens
	in := u.PromptTokens
	if d := u.PromptDetails; d != nil {
		out.CacheReadInputTokens = d.CachedTokens
		out.CacheCreationInputTokens = d.CacheWriteTokens
		if d.CacheWriteTokens > 0 {
			out.CacheCreation = &msgCacheCreation{Ephemeral1h: d.CacheWrite1hTokens, Ephemeral5m: d.CacheWriteTokens - d.CacheWrite1hTokens}
		}
		in -= d.CachedTokens + d.CacheWriteTokens
	}
	out.InputTokens = max(in, 0)
	return out
}

// maxUsage merges two cumulative reports of a stream's usage: each count only
// grows, and a later event may leave out what an earlier one said.
func maxUsage(a, b msgUsage) msgUsage {
	a.InputTokens = max(a.InputTokens, b.InputTokens)
	a.OutputTokens = max(a.OutputTokens, b.OutputTokens)
	a.CacheCreationInputTokens = max(a.CacheCreationInputTokens, b.CacheCreationInputTokens)
	a.CacheReadInputTokens = max(a.CacheReadInputTokens, b.CacheReadInputTokens)
	if b.CacheCreation != nil {
		if a.CacheCreation == nil {
			a.CacheCreation = &msgCacheCreation{}
		}
		a.CacheCreation.Ephemeral5m = max(a.CacheCreation.Ephemeral5m, b.CacheCreation.Ephemeral5m)
		a.CacheCreation.Ephemeral1h = max(a.CacheCreation.Ephemeral1h, b.CacheCreation.Ephemeral1h)
	}
	return a
}
