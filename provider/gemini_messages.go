package provider

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/anthropicwire"
)

// roundTripMessages serves the gateway's Anthropic-format front door
// (gateway.OpMessages) from Gemini, through OpenAI's format, with the two
// translations that exist already: the Messages request into a chat request
// (anthropicwire.MessagesToChatRequest), that into Gemini's, and the answer
// back the same way (Gemini's into chat, anthropicwire.MessagesResponse into
// Messages), streams event by event. An error answer keeps its status and
// headers; its body, rebuilt as every Gemini error is (unless
// VerbatimErrors), is put in Anthropic's shape.
func (p *Gemini) roundTripMessages(req *http.Request, c *gateway.Call, model string) (*http.Response, error) {
	sent := gateway.OutboundFrom(req.Context())
	chatBody, err := anthropicwire.MessagesToChatRequest(sent.Body, anthropicwire.Facts{Model: sent.Model, Stream: c.Stream, MaxTokens: c.MaxTokens})
	if err != nil {
		return nil, gateway.ErrBadRequest.WithMessage("provider: " + p.name + ": " + err.Error())
	}
	body, err := geminiRequest(chatBody, c.MaxTokens)
	if err != nil {
		return nil, err
	}
	resp, err := p.chat(req, c, model, body)
	if err != nil || resp.StatusCode >= 400 && p.wire.verbatimErrors {
		return resp, err
	}
	resp = anthropicwire.MessagesResponse(resp, c.Stream, sent.Model)
	resp.Request = req
	return resp, nil
}

// countTokens serves the front door's token counting
// (gateway.OpCountTokens) with Gemini's countTokens: the Messages request
// is translated as for a call (system, tools and all), sent as its
// generateContentRequest, and Gemini's totalTokens answered as Anthropic's
// {"input_tokens": N}. It costs no tokens, and the usage tap records none.
func (p *Gemini) countTokens(req *http.Request, model string) (*http.Response, error) {
	sent := gateway.OutboundFrom(req.Context())
	chatBody, err := anthropicwire.MessagesToChatRequest(sent.Body, anthropicwire.Facts{Model: sent.Model})
	if err != nil {
		return nil, gateway.ErrBadRequest.WithMessage("provider: " + p.name + ": " + err.Error())
	}
	gm, err := geminiRequest(chatBody, 0)
	if err != nil {
		return nil, err
	}
	// {"generateContentRequest":{"model":"models/M", …the request's fields}}:
	// gm is an object that always has contents.
	name, _ := json.Marshal("models/" + model)
	body := append(append(append([]byte(`{"generateContentRequest":{"model":`), name...), ','), gm[1:]...)
	body = append(body, '}')
	resp, err := p.exchange(req, model+":countTokens", body, false, nil, func(raw []byte) ([]byte, error) {
		var r struct {
			TotalTokens *int `json:"totalTokens"`
		}
		if json.Unmarshal(raw, &r) != nil || r.TotalTokens == nil {
			return nil, errGeminiAnswer
		}
		return append(strconv.AppendInt([]byte(`{"input_tokens":`), int64(*r.TotalTokens), 10), '}'), nil
	})
	if err != nil || resp.StatusCode < 400 || p.wire.verbatimErrors {
		return resp, err
	}
	resp = anthropicwire.MessagesError(resp)
	resp.Request = req
	return resp, nil
}
