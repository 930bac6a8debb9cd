package provider

import (
	"net/http"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/anthropicwire"
)

// roundTripMessages serves the gateway's Anthropic-format front door
// (gateway.OpMessages) from an OpenAI-format upstream: the Messages request
// is translated into a chat completion request (anthropicwire.
// MessagesToChatRequest, the stream asking for usage), and the answer back
// into Messages, streams event by event; an error answer keeps its status
// and headers, its body rebuilt as every error is (unless VerbatimErrors)
// and then put in Anthropic's shape. Token counting (OpCountTokens) has no
// OpenAI counterpart: it is a 404.
func (p *OpenAI) roundTripMessages(req *http.Request, c *gateway.Call) (*http.Response, error) {
	if c.Op != gateway.OpMessages {
		return nil, gateway.ErrNotFound.WithMessage("provider: " + p.name + ": an OpenAI-format upstream does not serve " + c.Op.String())
	}
	if m, ok := p.modelMap[gateway.OutboundFrom(req.Context()).Model]; ok {
		req = gateway.WithModel(req, m)
	}
	sent := gateway.OutboundFrom(req.Context())
	body, err := anthropicwire.MessagesToChatRequest(sent.Body, anthropicwire.Facts{Model: sent.Model, Stream: c.Stream, MaxTokens: c.MaxTokens})
	if err != nil {
		return nil, gateway.ErrBadRequest.WithMessage("provider: " + p.name + ": " + err.Error())
	}
	out, err := p.newRequest(req.Context(), gateway.OpChat, sent.Model, body, c.Stream)
	if err != nil {
		return nil, err
	}
	resp, err := p.send(out)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 400 && !p.verbatimErrors {
		p.sanitizeError(resp)
	}
	if resp.StatusCode >= 400 && p.verbatimErrors {
		resp.Request = req
		return resp, nil
	}
	resp = anthropicwire.MessagesResponse(resp, c.Stream, sent.Model)
	resp.Request = req
	return resp, nil
}
