package gatewaytest

import (
	"net/http"
	"strconv"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/anthropicwire"
)

// simOp is the operation a Sim answers a call of op as: a Messages call as
// a chat call, whose answer is then translated.
func simOp(op gateway.Op) gateway.Op {
	if op == gateway.OpMessages {
		return gateway.OpChat
	}
	return op
}

// roundTripMessages answers the Anthropic-format operations: a Messages call
// as a chat call (faults, latency and pacing included), its answer, stream
// and errors translated into Anthropic's format, as an OpenAI-format
// upstream's are by provider.OpenAI; a token count with the gateway's
// prompt estimate, {"input_tokens": Call.PromptTokens}.
func (s *Sim) roundTripMessages(req *http.Request, c *gateway.Call) (*http.Response, error) {
	if c.Op == gateway.OpCountTokens {
		s.requests.Add(1)
		if req.Body != nil {
			req.Body.Close()
		}
		r := s.newJSON(req, http.StatusOK)
		r.body.buf = strconv.AppendInt(append(r.body.buf, `{"input_tokens":`...), int64(c.PromptTokens), 10)
		r.body.buf = append(r.body.buf, '}')
		return r.done(), nil
	}
	resp, err := s.roundTrip(req)
	if err != nil {
		return nil, err
	}
	return anthropicwire.MessagesResponse(resp, c.Stream && resp.StatusCode/100 == 2, gateway.OutboundFrom(req.Context()).Model), nil
}
