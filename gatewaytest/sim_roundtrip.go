package gatewaytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/clock"
)

// simCall is what a Sim needs of one request.
type simCall struct {
	op        gateway.Op
	model     string
	stream    bool
	maxTokens int
	prompt    int
	// embeddings
	inputs []uint64 // a hash per input
	base64 bool
	dims   int
}

// RoundTrip answers req as an OpenAI-compatible server would. It reads the
// Call from the request context (gateway.CallFrom) and what the attempt sends
// from its Outbound (gateway.OutboundFrom): the model, and for embeddings the
// inputs; it never reads req.Body, which it closes. A request without a Call
// (one that did not come through gateway.NewClient or gateway.NewHandler) is
// an error. It never modifies req, and returns either a response with a
// non-nil body or an error.
//
// It returns an error only for a simulated reset (a *net.OpError wrapping
// syscall.ECONNRESET), for a context that ends while it waits for its Latency
// or in a simulated hang (ctx.Err()), and for a request without a Call;
// everything else, simulated failures included, is an HTTP response, with an
// OpenAI-style error body when it is one. The body of a response fails with
// ctx.Err() once the context has ended.
//
// A Messages call (gateway.OpMessages, the gateway's Anthropic-format front
// door) is answered as a chat call, translated into Anthropic's format as
// provider.OpenAI translates an upstream's answer (see sim_messages.go).
func (s *Sim) RoundTrip(req *http.Request) (*http.Response, error) {
	if c := gateway.CallFrom(req.Context()); c != nil && (c.Op == gateway.OpMessages || c.Op == gateway.OpCountTokens) {
		return s.roundTripMessages(req, c)
	}
	return s.roundTrip(req)
}

func (s *Sim) roundTrip(req *http.Request) (*http.Response, error) {
	s.requests.Add(1)
	if req.Body != nil {
		req.Body.Close()
	}
	ctx := req.Context()
	c := gateway.CallFrom(ctx)
	if c == nil {
		return nil, errSimNoCall
	}
	op := simOp(c.Op)
	var sc simCall
	var bad *simError
	switch {
	case op == gateway.OpUnknown:
		bad = &simError{status: http.StatusNotFound, code: "unknown_url", msg: "gatewaytest: sim has no route " + req.Method + " " + strings.ToValidUTF8(req.URL.Path, "?")}
	case op != gateway.OpModels:
		sc, bad = s.parse(c, gateway.OutboundFrom(ctx))
	default:
		sc.op = op
	}

	d := s.draw(sc.stream)
	switch d.kind {
	case faultReset:
		return nil, errSimReset
	case faultTimeout:
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if s.latency > 0 {
		if err := clock.Sleep(ctx, s.clock, s.latency); err != nil {
			return nil, err
		}
	}
	switch {
	case bad != nil:
		return s.errorResponse(req, bad.status, bad.code, bad.msg, 0), nil
	case d.kind == faultError:
		return s.errorResponse(req, d.status, "", "", d.retry), nil
	case op != gateway.OpModels && s.served != nil:
		if _, ok := s.served[sc.model]; !ok {
			return s.errorResponse(req, http.StatusNotFound, "model_not_found",
				"gatewaytest: sim "+s.name+" does not serve model "+strconv.Quote(sc.model), 0), nil
		}
	}
	if sc.stream {
		return s.streamResponse(req, &sc, d), nil
	}
	r := s.newJSON(req, http.StatusOK)
	switch op {
	case gateway.OpModels:
		r.body.buf = s.appendModels(r.body.buf)
	case gateway.OpEmbedding:
		r.body.buf = s.appendEmbeddings(r.body.buf, &sc)
	case gateway.OpResponses:
		r.body.buf = s.appendResponse(r.body.buf, &sc)
	default:
		r.body.buf = s.appendCompletion(r.body.buf, &sc)
	}
	return r.done(), nil
}

// errSimReset is what a simulated connection reset returns: what a real
// transport's read on a reset connection gives (errors.Is ECONNRESET, and a
// net.Error).
var errSimReset error = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

// errSimNoCall is what a Sim returns for a request that did not come through
// an entry point.
var errSimNoCall = errors.New("gatewaytest: sim: request has no gateway.Call: send it through gateway.NewClient or gateway.NewHandler")

type simError struct {
	status    int
	code, msg string
}

// parse fills a simCall from the Call and what its attempt sends.
func (s *Sim) parse(c *gateway.Call, out gateway.Outbound) (simCall, *simError) {
	sc := simCall{op: simOp(c.Op), model: out.Model, stream: c.Stream, maxTokens: c.MaxTokens, prompt: c.PromptTokens}
	if len(sc.model) > maxModelBytes { // every event would echo it
		return sc, badRequest("model names are at most " + strconv.Itoa(maxModelBytes) + " bytes")
	}
	if c.Op == gateway.OpEmbedding {
		sc.stream = false
		if bad := s.parseEmbedding(&sc, out.Body); bad != nil {
			return sc, bad
		}
	}
	return sc, nil
}

// badRequest is the Sim's own 400, in the OpenAI shape.
func badRequest(msg string) *simError {
	return &simError{status: http.StatusBadRequest, code: "invalid_request", msg: "gatewaytest: sim: " + msg}
}

// parseEmbedding reads the inputs, encoding_format and dimensions of an
// embeddings request, within the Sim's bounds. Embeddings are rare next to
// chat, so it decodes with encoding/json.
func (s *Sim) parseEmbedding(sc *simCall, body []byte) *simError {
	var req struct {
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return badRequest("invalid embeddings request")
	}
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		sc.base64 = true
	default:
		return badRequest("encoding_format must be float or base64")
	}
	sc.dims = s.dims
	if req.Dimensions != 0 {
		if req.Dimensions < 1 || req.Dimensions > maxEmbeddingDims {
			return badRequest("dimensions out of range")
		}
		sc.dims = req.Dimensions
	}
	in := bytes.TrimSpace(req.Input)
	if len(in) == 0 || in[0] != '[' {
		sc.inputs = append(sc.inputs, hashBytes(in))
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(in, &items); err != nil || len(items) == 0 {
		return badRequest("input must be a string or a non-empty array")
	}
	if c := bytes.TrimSpace(items[0]); len(c) > 0 && c[0] != '"' && c[0] != '[' {
		// An array of token ids is a single input.
		sc.inputs = append(sc.inputs, hashBytes(in))
		return nil
	}
	if len(items) > maxEmbeddingInputs {
		return badRequest("at most " + strconv.Itoa(maxEmbeddingInputs) + " inputs per request")
	}
	if len(items)*sc.dims > maxEmbeddingValues {
		return badRequest(strconv.Itoa(len(items)) + " inputs of " + strconv.Itoa(sc.dims) + " dimensions is over the sim's bound of " +
			strconv.Itoa(maxEmbeddingValues) + " values (inputs × dimensions) per request")
	}
	for _, it := range items {
		sc.inputs = append(sc.inputs, hashBytes(bytes.TrimSpace(it)))
	}
	return nil
}

// hashBytes is 64-bit FNV-1a: the same input gets the same vector.
func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
