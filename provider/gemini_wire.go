package provider

import (
	"bytes"
	"encoding/json"
	"errors"
)

// The two wire formats the Gemini adapter translates between, as Go types:
// OpenAI's Chat Completions request (what a Call sends) and Gemini's
// generateContent request and response. Only the fields the adapter maps are
// declared; the rest of a request is not sent.

// oaChatRequest is the part of an OpenAI chat request the adapter reads. The
// model, stream and max_tokens are the Call's (parsed once by the entry
// point), not re-read here.
type oaChatRequest struct {
	Messages         []oaMessage       `json:"messages"`
	Tools            []oaTool          `json:"tools"`
	ToolChoice       json.RawMessage   `json:"tool_choice"`
	Temperature      *float64          `json:"temperature"`
	TopP             *float64          `json:"top_p"`
	Stop             json.RawMessage   `json:"stop"`
	N                *int              `json:"n"`
	Seed             *int64            `json:"seed"`
	PresencePenalty  *float64          `json:"presence_penalty"`
	FrequencyPenalty *float64          `json:"frequency_penalty"`
	ResponseFormat   *oaResponseFormat `json:"response_format"`
	ReasoningEffort  string            `json:"reasoning_effort"`
}

type oaMessage struct {
	Role       string       `json:"role"`
	Content    oaContent    `json:"content"`
	Name       string       `json:"name"`
	ToolCalls  []oaToolCall `json:"tool_calls"`
	ToolCallID string       `json:"tool_call_id"`
}

type oaToolCall struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

// oaContent is a message's content: a string, an array of parts, or null
// (neither). It is decoded where it stands, in the one pass over the
// request.
type oaContent struct {
	text    string
	parts   []oaContentPart
	isParts bool
}

// errContentType is the failure of a content that is none of its shapes.
var errContentType = errors.New("message content must be a string, an array of parts or null")

func (c *oaContent) UnmarshalJSON(b []byte) error {
	switch b[0] {
	case 'n':
		return nil
	case '"':
		if bytes.IndexByte(b, '\\') < 0 {
			// No escape: the text is the bytes between the quotes (an
			// invalid UTF-8 byte is replaced when it is encoded again,
			// as encoding/json would).
			c.text = string(b[1 : len(b)-1])
			return nil
		}
		return json.Unmarshal(b, &c.text)
	case '[':
		c.isParts = true
		return json.Unmarshal(b, &c.parts)
	}
	return errContentType
}

type oaContentPart struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	ImageURL *struct {
		URL string `json:"url"`
	} `json:"image_url"`
	InputAudio *struct {
		Data   string `json:"data"`
		Format string `json:"format"`
	} `json:"input_audio"`
	File *struct {
		FileData string `json:"file_data"`
		FileID   string `json:"file_id"`
	} `json:"file"`
}

type oaTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string          `json:"name"`
		Description string          `json:"description"`
		Parameters  json.RawMessage `json:"parameters"`
	} `json:"function"`
}

type oaResponseFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema"`
}

// Gemini's request (generateContent, streamGenerateContent).
type gmRequest struct {
	Contents          []gmContent         `json:"contents"`
	SystemInstruction *gmContent          `json:"systemInstruction,omitempty"`
	Tools             []gmTool            `json:"tools,omitempty"`
	ToolConfig        *gmToolConfig       `json:"toolConfig,omitempty"`
	GenerationConfig  *gmGenerationConfig `json:"generationConfig,omitempty"`
}

type gmContent struct {
	Role  string   `json:"role,omitempty"`
	Parts []gmPart `json:"parts"`
}

// gmPart is one part of a content; exactly one of its data fields is set.
type gmPart struct {
	Text             *string             `json:"text,omitempty"`
	Thought          bool                `json:"thought,omitempty"`
	ThoughtSignature string              `json:"thoughtSignature,omitempty"`
	InlineData       *gmBlob             `json:"inlineData,omitempty"`
	FileData         *gmFileData         `json:"fileData,omitempty"`
	FunctionCall     *gmFunctionCall     `json:"functionCall,omitempty"`
	FunctionResponse *gmFunctionResponse `json:"functionResponse,omitempty"`
}

type gmBlob struct {
	MimeType string `json:"mimeType"`
	Data     string `json:"data"`
}

type gmFileData struct {
	MimeType string `json:"mimeType,omitempty"`
	FileURI  string `json:"fileUri"`
}

type gmFunctionCall struct {
	ID   string          `json:"id,omitempty"`
	Name string          `json:"name"`
	Args json.RawMessage `json:"args,omitempty"`
}

type gmFunctionResponse struct {
	ID       string          `json:"id,omitempty"`
	Name     string          `json:"name"`
	Response json.RawMessage `json:"response"`
}

type gmTool struct {
	FunctionDeclarations []gmFunctionDeclaration `json:"functionDeclarations"`
}

type gmFunctionDeclaration struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// ParametersJSONSchema takes the caller's JSON Schema as it is; Gemini's
	// older "parameters" field takes only an OpenAPI subset, and a
	// translation of one schema language into the other loses keywords.
	ParametersJSONSchema json.RawMessage `json:"parametersJsonSchema,omitempty"`
}

type gmToolConfig struct {
	FunctionCallingConfig gmFunctionCallingConfig `json:"functionCallingConfig"`
}

type gmFunctionCallingConfig struct {
	Mode                 string   `json:"mode"`
	AllowedFunctionNames []string `json:"allowedFunctionNames,omitempty"`
}

type gmGenerationConfig struct {
	Temperature        *float64          `json:"temperature,omitempty"`
	TopP               *float64          `json:"topP,omitempty"`
	MaxOutputTokens    int               `json:"maxOutputTokens,omitempty"`
	StopSequences      []string          `json:"stopSequences,omitempty"`
	CandidateCount     int               `json:"candidateCount,omitempty"`
	Seed               *int64            `json:"seed,omitempty"`
	PresencePenalty    *float64          `json:"presencePenalty,omitempty"`
	FrequencyPenalty   *float64          `json:"frequencyPenalty,omitempty"`
	ResponseMimeType   string            `json:"responseMimeType,omitempty"`
	ResponseJSONSchema json.RawMessage   `json:"responseJsonSchema,omitempty"`
	ThinkingConfig     *gmThinkingConfig `json:"thinkingConfig,omitempty"`
}

type gmThinkingConfig struct {
	ThinkingBudget int `json:"thinkingBudget"`
}

// Gemini's response: a whole generateContent answer, or one event of a
// streamGenerateContent stream (alt=sse), which has the same shape. A
// stream that fails after its 200 sends an error object instead.
type gmResponse struct {
	Candidates     []gmCandidate `json:"candidates"`
	PromptFeedback *struct {
		BlockReason string `json:"blockReason"`
	} `json:"promptFeedback"`
	UsageMetadata *gmUsage        `json:"usageMetadata"`
	ModelVersion  string          `json:"modelVersion"`
	ResponseID    string          `json:"responseId"`
	Error         json.RawMessage `json:"error"`
}

type gmCandidate struct {
	Content      gmContent `json:"content"`
	FinishReason string    `json:"finishReason"`
	Index        int       `json:"index"`
}

type gmUsage struct {
	PromptTokenCount        int `json:"promptTokenCount"`
	CandidatesTokenCount    int `json:"candidatesTokenCount"`
	CachedContentTokenCount int `json:"cachedContentTokenCount"`
	ThoughtsTokenCount      int `json:"thoughtsTokenCount"`
	ToolUsePromptTokenCount int `json:"toolUsePromptTokenCount"`
}
