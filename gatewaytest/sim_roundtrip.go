package gatewaytest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/llmgate/gateway"
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
// Call from the request context (gateway.CallFrom) and parses the body only
// when there is none or the body was changed on the way (a router renaming
// the model). It always closes the request body, never modifies req, and
// returns either a response with a non-nil body or an error.
//
// It returns an error only for a simulated reset (a *net.OpError wrapping
// syscall.ECONNRESET) and for a context that ends while it waits for its
// Latency or in a simulated hang (ctx.Err()); everything else, simulated
// failures included, is an HTTP response, with an OpenAI-style error body
// when it is one. The body of a response fails with ctx.Err() once the
// context has ended.
func (s *Sim) RoundTrip(req *http.Request) (*http.Response, error) {
	s.requests.Add(1)
	ctx := req.Context()
	op := gateway.OpFromPath(req.URL.Path)
	bp, rerr := readRequestBody(req)
	var body []byte
	if bp != nil {
		defer putBodyBuf(bp)
		body = *bp
	}
	if rerr != nil && ctx.Err() != nil {
		return nil, ctx.Err()
	}

	var sc simCall
	var bad *simError
	switch {
	case rerr != nil:
		bad = &simError{status: http.StatusBadRequest, msg: "provider: sim could not read the request body"}
		if e := gateway.ErrorFor(rerr); e.Status == http.StatusRequestEntityTooLarge {
			bad.status = e.Status
		}
	case op == gateway.OpUnknown:
		bad = &simError{status: http.StatusNotFound, code: "unknown_url", msg: "provider: sim has no route " + req.Method + " " + strings.ToValidUTF8(req.URL.Path, "?")}
	case req.Method != opMethod(op):
		bad = &simError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", msg: "provider: sim does not allow " + req.Method + " " + op.Path()}
	case op != gateway.OpModels:
		sc, bad = s.parse(op, gateway.CallFrom(ctx), body)
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
		if err := gateway.Sleep(ctx, s.clock, s.latency); err != nil {
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
				"provider: sim "+s.name+" does not serve model "+strconv.Quote(sc.model), 0), nil
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
	default:
		r.body.buf = s.appendCompletion(r.body.buf, &sc)
	}
	return r.done(), nil
}

func opMethod(op gateway.Op) string {
	if op == gateway.OpModels {
		return http.MethodGet
	}
	return http.MethodPost
}

// errSimReset is what a simulated connection reset returns: what a real
// transport's read on a reset connection gives (errors.Is ECONNRESET, and a
// net.Error).
var errSimReset error = &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}

type simError struct {
	status    int
	code, msg string
}

// parse fills a simCall from the context's Call, reparsing the body only when
// it is not the Call's own.
func (s *Sim) parse(op gateway.Op, c *gateway.Call, body []byte) (simCall, *simError) {
	sc := simCall{op: op}
	if c != nil && bytes.Equal(body, c.Body) {
		sc.model, sc.stream, sc.maxTokens, sc.prompt = c.Model, c.Stream, c.MaxTokens, c.PromptTokens
	} else {
		pc, err := gateway.ParseCall(op, body, gateway.Limits{})
		if err != nil {
			return sc, &simError{status: http.StatusBadRequest, code: "invalid_request", msg: gateway.ErrorFor(err).Message}
		}
		// pc aliases body, a pooled buffer: copy what outlives this call.
		sc.model, sc.stream, sc.maxTokens, sc.prompt = strings.Clone(pc.Model), pc.Stream, pc.MaxTokens, pc.PromptTokens
		if c != nil {
			sc.prompt = c.PromptTokens
		}
	}
	if op == gateway.OpEmbedding {
		sc.stream = false
		if bad := s.parseEmbedding(&sc, body); bad != nil {
			return sc, bad
		}
	}
	return sc, nil
}

// Largest embedding size a request may ask for.
const maxEmbeddingDims = 4096

// parseEmbedding reads the inputs, encoding_format and dimensions of an
// embeddings request. Embeddings are rare next to chat, so it decodes with
// encoding/json.
func (s *Sim) parseEmbedding(sc *simCall, body []byte) *simError {
	var req struct {
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format"`
		Dimensions     int             `json:"dimensions"`
	}
	bad := func(msg string) *simError {
		return &simError{status: http.StatusBadRequest, code: "invalid_request", msg: "provider: sim: " + msg}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return bad("invalid embeddings request")
	}
	switch req.EncodingFormat {
	case "", "float":
	case "base64":
		sc.base64 = true
	default:
		return bad("encoding_format must be float or base64")
	}
	sc.dims = s.dims
	if req.Dimensions != 0 {
		if req.Dimensions < 1 || req.Dimensions > maxEmbeddingDims {
			return bad("dimensions out of range")
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
		return bad("input must be a string or a non-empty array")
	}
	if c := bytes.TrimSpace(items[0]); len(c) > 0 && c[0] != '"' && c[0] != '[' {
		// An array of token ids is a single input.
		sc.inputs = append(sc.inputs, hashBytes(in))
		return nil
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

// Request bodies are read into pooled buffers: a Sim serving a Call needs
// the body only long enough to check it is the Call's.
var bodyBufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

const maxPooledBody = 1 << 20

// readRequestBody reads and closes req.Body, bounded by the gateway's default
// body limit. The returned buffer, when not nil, goes back with putBodyBuf.
func readRequestBody(req *http.Request) (*[]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	defer req.Body.Close()
	if req.Body == http.NoBody {
		return nil, nil
	}
	bp := bodyBufPool.Get().(*[]byte)
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := req.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > gateway.DefaultMaxBodyBytes {
			*bp = buf
			return bp, gateway.ErrBodyTooLarge
		}
		if err == io.EOF {
			*bp = buf
			return bp, nil
		}
		if err != nil {
			*bp = buf
			return bp, err
		}
	}
}

func putBodyBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBody {
		*bp = (*bp)[:0]
		bodyBufPool.Put(bp)
	}
}
