// Package chatwire holds OpenAI's Chat Completions answer types that the
// gateway's translators write: a stream's chat.completion.chunk and the
// parts it shares with a whole answer (tool calls, images, usage). It is
// the one owner of that shape; provider's Gemini adapter and
// internal/anthropicwire both encode through it.
//
// The types are plain values, safe to copy; nothing here holds state.
package chatwire

import "encoding/json"

// Chunk is one chat.completion.chunk event's data.
type Chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"` // "chat.completion.chunk"
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []ChunkChoice `json:"choices"` // [] (never null) in a usage-only chunk
	Usage   *Usage        `json:"usage,omitempty"`
}

// ChunkChoice is a chunk's choice: its delta, and a finish_reason (null
// until the last).
type ChunkChoice struct {
	Index        int     `json:"index"`
	Delta        Delta   `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

// Delta is what a chunk adds to a choice's message. ThinkingBlocks carry
// Anthropic's thinking and redacted_thinking blocks byte for byte, for the
// client to send back; Images are images the model made, as the
// OpenAI-compatible gateways (OpenRouter, LiteLLM) send them.
type Delta struct {
	Role             string            `json:"role,omitempty"`
	Content          *string           `json:"content,omitempty"`
	ToolCalls        []ToolCall        `json:"tool_calls,omitempty"`
	ReasoningContent *string           `json:"reasoning_content,omitempty"`
	ThinkingBlocks   []json.RawMessage `json:"thinking_blocks,omitempty"`
	Images           []Image           `json:"images,omitempty"`
}

// ToolCall is a tool call of a message, or a fragment of one in a
// stream's delta (Index set; ID, Type and Name in its first fragment only).
type ToolCall struct {
	Index    *int     `json:"index,omitempty"` // in stream deltas only
	ID       string   `json:"id,omitempty"`
	Type     string   `json:"type,omitempty"`
	Function Function `json:"function"`
}

// Function is a tool call's function: its name, and its arguments as a
// JSON string.
type Function struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// Image is an image the model made: an image_url part with a data URL.
type Image struct {
	Type     string `json:"type"`
	ImageURL struct {
		URL string `json:"url"`
	} `json:"image_url"`
}

// Usage is an answer's usage in OpenAI's terms.
type Usage struct {
	PromptTokens      int                `json:"prompt_tokens"`
	CompletionTokens  int                `json:"completion_tokens"`
	TotalTokens       int                `json:"total_tokens"`
	PromptDetails     *PromptDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionDetails *CompletionDetails `json:"completion_tokens_details,omitempty"`
}

// PromptDetails says which prompt tokens were cached. The cache writes
// (Anthropic's, 5-minute and 1-hour) have no OpenAI field: they go under
// the names the gateway's usage reader knows, so billing gets them.
type PromptDetails struct {
	CachedTokens       int `json:"cached_tokens"`
	CacheWriteTokens   int `json:"cache_write_tokens,omitempty"`
	CacheWrite1hTokens int `json:"cache_write_1h_tokens,omitempty"`
}

// CompletionDetails says which completion tokens were reasoning.
type CompletionDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}
