package anthropicwire

import (
	"encoding/json"

	"github.com/llmgate/gateway/internal/chatwire"
)

// The OpenAI side. Fields the translation does not need are not decoded.

type chatRequest struct {
	Messages          []chatMessage   `json:"messages"`
	Temperature       *float64        `json:"temperature,omitempty"`
	TopP              *float64        `json:"top_p,omitempty"`
	Stop              json.RawMessage `json:"stop,omitempty"` // a string or a list
	Tools             []chatTool      `json:"tools,omitempty"`
	ToolChoice        json.RawMessage `json:"tool_choice,omitempty"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls,omitempty"`
	User              string          `json:"user,omitempty"`
	N                 *int            `json:"n,omitempty"`
	// Thinking is Anthropic's own parameter, which OpenAI-format clients
	// of Anthropic models send as an extension; it passes as it is.
	Thinking json.RawMessage `json:"thinking,omitempty"`
}

type chatMessage struct {
	Role       string              `json:"role"`
	Content    json.RawMessage     `json:"content,omitempty"` // a string, a list of parts, or null
	ToolCalls  []chatwire.ToolCall `json:"tool_calls,omitempty"`
	ToolCallID string              `json:"tool_call_id,omitempty"`
	// ThinkingBlocks are Anthropic thinking and redacted_thinking blocks,
	// kept byte for byte: an assistant turn replays them unchanged, since a
	// modified block makes every later request of the conversation a 400.
	ThinkingBlocks   []json.RawMessage `json:"thinking_blocks,omitempty"`
	ReasoningContent *string           `json:"reasoning_content,omitempty"`
}

type chatPart struct {
	Type         string          `json:"type"`
	Text         string          `json:"text,omitempty"`
	ImageURL     *chatImageURL   `json:"image_url,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type chatImageURL struct {
	URL string `json:"url"`
}

type chatTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description,omitempty"`
		Parameters  json.RawMessage `json:"parameters,omitempty"`
	} `json:"function"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

// The Anthropic side.

type msgRequest struct {
	Model         string          `json:"model"`
	MaxTokens     int             `json:"max_tokens"`
	System        json.RawMessage `json:"system,omitempty"` // a string or a list of text blocks
	Messages      []msgMessage    `json:"messages"`
	Stream        bool            `json:"stream,omitempty"`
	Temperature   *float64        `json:"temperature,omitempty"`
	TopP          *float64        `json:"top_p,omitempty"`
	StopSequences []string        `json:"stop_sequences,omitempty"`
	Tools         []msgTool       `json:"tools,omitempty"`
	ToolChoice    *msgToolChoice  `json:"tool_choice,omitempty"`
	Metadata      *msgMetadata    `json:"metadata,omitempty"`
	Thinking      json.RawMessage `json:"thinking,omitempty"`
}

type msgMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"` // a string or a list of blocks
}

type msgMetadata struct {
	UserID string `json:"user_id,omitempty"`
}

type msgTool struct {
	Type         string          `json:"type,omitempty"` // empty for a custom tool; server tools have one
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	InputSchema  json.RawMessage `json:"input_schema,omitempty"`
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type msgToolChoice struct {
	Type                   string `json:"type"` // auto, any, tool, none
	Name                   string `json:"name,omitempty"`
	DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
}

// msgBlock is any content block, decoded for what the translation reads;
// its bytes are kept where a block must pass unchanged.
type msgBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   json.RawMessage `json:"content,omitempty"` // a tool_result's: a string or blocks
	IsError   bool            `json:"is_error,omitempty"`
	Source    *msgSource      `json:"source,omitempty"`
	Thinking  string          `json:"thinking,omitempty"`
	Signature string          `json:"signature,omitempty"`
	Data      string          `json:"data,omitempty"` // redacted_thinking
	// CacheControl marks a prompt-cache breakpoint; it travels with its block.
	CacheControl json.RawMessage `json:"cache_control,omitempty"`
}

type msgSource struct {
	Type      string `json:"type"` // base64 or url
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

type msgResponse struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Role         string            `json:"role"`
	Model        string            `json:"model"`
	Content      []json.RawMessage `json:"content"`
	StopReason   *string           `json:"stop_reason"`
	StopSequence *string           `json:"stop_sequence"`
	Usage        msgUsage          `json:"usage"`
}

// msgUsage is Anthropic's usage: input_tokens excludes the cache reads and
// writes, which it counts apart.
type msgUsage struct {
	InputTokens              int               `json:"input_tokens"`
	OutputTokens             int               `json:"output_tokens"`
	CacheCreationInputTokens int               `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int               `json:"cache_read_input_tokens"`
	CacheCreation            *msgCacheCreation `json:"cache_creation,omitempty"`
}

type msgCacheCreation struct {
	Ephemeral5m int `json:"ephemeral_5m_input_tokens"`
	Ephemeral1h int `json:"ephemeral_1h_input_tokens"`
}
