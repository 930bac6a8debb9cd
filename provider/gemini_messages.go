package provider

import (
	"net/http"

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
