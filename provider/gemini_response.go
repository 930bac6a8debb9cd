package provider

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/chatwire"
)

// Gemini's answers in OpenAI's format. One set of rules serves a whole
// answer (geminiCompletion) and a stream's events (gemini_stream.go): how a
// candidate's parts become a message, how its finishReason and the usage
// map.

// answerMeta is what every translated answer of one call says about it.
type answerMeta struct {
	callID  string // the gateway's call id: the answer's id when Gemini sent none, and minted tool call ids
	created int64
	model   string // the model sent; Gemini's modelVersion when it names one
}

// OpenAI's answer types.
type oaCompletion struct {
	ID      string          `json:"id"`
	Object  string          `json:"object"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []oaChoice      `json:"choices"`
	Usage   *chatwire.Usage `json:"usage,omitempty"`
}

type oaChoice struct {
	Index        int           `json:"index"`
	Message      oaRespMessage `json:"message"`
	Logprobs     *struct{}     `json:"logprobs"`
	FinishReason string        `json:"finish_reason"`
}

type oaRespMessage struct {
	Role             string              `json:"role"`
	Content          *string             `json:"content"`
	Refusal          *string             `json:"refusal"`
	ReasoningContent string              `json:"reasoning_content,omitempty"`
	ToolCalls        []chatwire.ToolCall `json:"tool_calls,omitempty"`
	Images           []chatwire.Image    `json:"images,omitempty"`
}

// openAIUsage maps Gemini's usage. Gemini counts thoughts apart from the
// candidates and tool-use prompts apart from the prompt; OpenAI's
// completion_tokens include reasoning and its prompt_tokens everything
// sent. cachedContentTokenCount is part of promptTokenCount, as OpenAI's
// cached_tokens are of prompt_tokens.
func openAIUsage(u *gmUsage) *chatwire.Usage {
	if u == nil {
		return nil // the gateway estimates, and says so
	}
	// One allocation for the usage and its details.
	o := &struct {
		chatwire.Usage
		p chatwire.PromptDetails
		c chatwire.CompletionDetails
	}{}
	o.PromptTokens = u.PromptTokenCount + u.ToolUsePromptTokenCount
	o.CompletionTokens = u.CandidatesTokenCount + u.ThoughtsTokenCount
	o.TotalTokens = o.PromptTokens + o.CompletionTokens
	o.p.CachedTokens = u.CachedContentTokenCount
	o.c.ReasoningTokens = u.ThoughtsTokenCount
	o.PromptDetails, o.CompletionDetails = &o.p, &o.c
	return &o.Usage
}

// finishReason maps Gemini's finishReason for a candidate that made
// function calls (toolCalls) or not. Reasons it does not know are "stop":
// a new reason never fails a call.
func finishReason(r string, toolCalls bool) string {
	switch r {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER":
		return "content_filter"
	}
	if toolCalls {
		return "tool_calls"
	}
	return "stop"
}

// candidateParts is what a candidate's parts (of a whole answer, or of one
// stream event) say: text, thought text, function calls, and images the
// model made (image models answer with inline data).
type candidateParts struct {
	text, reasoning strings.Builder
	calls           []chatwire.ToolCall
	images          []chatwire.Image
}

// read adds the parts of c; calls counts the function calls of the whole
// call so far, which numbers minted ids.
func (cp *candidateParts) read(c *gmCandidate, meta *answerMeta, calls *int) {
	for i := range c.Content.Parts {
		p := &c.Content.Parts[i]
		switch {
		case p.FunctionCall != nil:
			var tc chatwire.ToolCall
			tc.ID = geminiCallID(meta.callID, *calls, p.FunctionCall.ID, p.ThoughtSignature)
			tc.Type = "function"
			tc.Function.Name = p.FunctionCall.Name
			tc.Function.Arguments = argsString(p.FunctionCall.Args)
			cp.calls = append(cp.calls, tc)
			*calls++
		case p.InlineData != nil:
			var img chatwire.Image
			img.Type = "image_url"
			img.ImageURL.URL = "data:" + p.InlineData.MimeType + ";base64," + p.InlineData.Data
			cp.images = append(cp.images, img)
		case p.Text == nil:
		case p.Thought:
			cp.reasoning.WriteString(*p.Text)
		default:
			cp.text.WriteString(*p.Text)
		}
	}
}

// argsString is a function call's arguments as OpenAI sends them: compact
// JSON text of an object.
func argsString(args json.RawMessage) string {
	a := bytes.TrimSpace(args)
	if len(a) == 0 || a[0] == 'n' {
		return "{}"
	}
	var b bytes.Buffer
	if json.Compact(&b, a) != nil {
		return "{}"
	}
	return b.String()
}

// answerID is the OpenAI id of an answer.
func (m *answerMeta) answerID(responseID string) string {
	if responseID != "" {
		return "chatcmpl-" + responseID
	}
	return "chatcmpl-" + m.callID
}

func (m *answerMeta) modelOf(r *gmResponse) string {
	if r.ModelVersion != "" {
		return r.ModelVersion
	}
	return m.model
}

// geminiCompletion translates a whole generateContent answer into an OpenAI
// chat.completion. A prompt Gemini blocked (no candidates, a
// promptFeedback.blockReason) is one empty choice ended by content_filter.
func geminiCompletion(raw []byte, meta *answerMeta) ([]byte, error) {
	var r gmResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, errGeminiAnswer
	}
	out := oaCompletion{ID: meta.answerID(r.ResponseID), Object: "chat.completion", Created: meta.created,
		Model: meta.modelOf(&r), Choices: make([]oaChoice, 0, max(1, len(r.Candidates))), Usage: openAIUsage(r.UsageMetadata)}
	calls := 0
	for i := range r.Candidates {
		c := &r.Candidates[i]
		var cp candidateParts
		cp.read(c, meta, &calls)
		ch := oaChoice{Index: c.Index, FinishReason: finishReason(c.FinishReason, len(cp.calls) > 0)}
		ch.Message.Role = "assistant"
		if text := cp.text.String(); text != "" || len(cp.calls) == 0 {
			ch.Message.Content = &text
		}
		ch.Message.ReasoningContent = cp.reasoning.String()
		ch.Message.ToolCalls = cp.calls
		ch.Message.Images = cp.images
		out.Choices = append(out.Choices, ch)
	}
	if len(r.Candidates) == 0 {
		empty := ""
		out.Choices = append(out.Choices, oaChoice{FinishReason: blockedFinish(&r),
			Message: oaRespMessage{Role: "assistant", Content: &empty}})
	}
	return json.Marshal(&out)
}

// blockedFinish is the finish_reason of an answer with no candidates:
// content_filter when Gemini blocked the prompt.
func blockedFinish(r *gmResponse) string {
	if r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		return "content_filter"
	}
	return "stop"
}

// errGeminiAnswer is the failure of an answer that is not Gemini's JSON.
var errGeminiAnswer = gateway.ErrUpstream.WithMessage("provider: gemini: the upstream's answer is not valid JSON")
