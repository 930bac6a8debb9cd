package gatewaytest

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// What a GeminiServer reads of a request, in Gemini's wire format (its own
// types: a fake that shared the adapter's would agree with any bug in it).
type fakeGeminiRequest struct {
	Contents []struct {
		Role  string            `json:"role"`
		Parts []json.RawMessage `json:"parts"`
	} `json:"contents"`
	SystemInstruction *struct {
		Parts []json.RawMessage `json:"parts"`
	} `json:"systemInstruction"`
}

type fakeGeminiPart struct {
	Text             *string `json:"text"`
	FunctionResponse *struct {
		Name string `json:"name"`
	} `json:"functionResponse"`
}

type fakeEmbedRequest struct {
	Content struct {
		Parts []struct {
			Text string `json:"text"`
		} `json:"parts"`
	} `json:"content"`
	OutputDimensionality int `json:"outputDimensionality"`
}

var geminiSeq atomic.Uint64

func (g *GeminiServer) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1beta/models")
	if !ok {
		g.fail(w, http.StatusNotFound, "gatewaytest: gemini: no route "+r.URL.Path)
		return
	}
	key := r.Header.Get("X-Goog-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if key != g.key {
		g.badKey(w)
		return
	}
	reply, faults := g.state()
	if faults.Status != 0 {
		g.fault(w, faults)
		return
	}
	if rest == "" && r.Method == http.MethodGet {
		g.list(w)
		return
	}
	model, method, ok := strings.Cut(strings.TrimPrefix(rest, "/"), ":")
	if !ok || model == "" || r.Method != http.MethodPost {
		g.fail(w, http.StatusNotFound, "gatewaytest: gemini: no route "+r.Method+" "+r.URL.Path)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxServerBody))
	if err != nil {
		return
	}
	switch method {
	case "generateContent", "streamGenerateContent":
		var req fakeGeminiRequest
		if msg := checkGeminiRequest(body, &req); msg != "" {
			g.fail(w, http.StatusBadRequest, msg)
			return
		}
		if method == "streamGenerateContent" {
			if r.URL.Query().Get("alt") != "sse" {
				g.fail(w, http.StatusBadRequest, "gatewaytest: gemini: streams are served with alt=sse only")
				return
			}
			g.stream(w, model, &req, reply, faults)
			return
		}
		writeJSON(w, g.response(model, &req, reply, reply.Text, reply.Thought, reply.FunctionCalls, true))
	case "countTokens":
		var env struct {
			GenerateContentRequest *json.RawMessage `json:"generateContentRequest"`
		}
		if json.Unmarshal(body, &env) == nil && env.GenerateContentRequest != nil {
			body = *env.GenerateContentRequest
		}
		var req fakeGeminiRequest
		if msg := checkGeminiRequest(body, &req); msg != "" {
			g.fail(w, http.StatusBadRequest, msg)
			return
		}
		n := promptTokens(&req)
		writeJSON(w, map[string]any{"totalTokens": n, "promptTokensDetails": []any{map[string]any{"modality": "TEXT", "tokenCount": n}}})
	case "embedContent":
		var req fakeEmbedRequest
		if json.Unmarshal(body, &req) != nil || len(req.Content.Parts) == 0 {
			g.fail(w, http.StatusBadRequest, "gatewaytest: gemini: embedContent needs content.parts")
			return
		}
		writeJSON(w, map[string]any{"embedding": g.vector(&req)})
	case "batchEmbedContents":
		var req struct {
			Requests []fakeEmbedRequest `json:"requests"`
		}
		if json.Unmarshal(body, &req) != nil || len(req.Requests) == 0 || len(req.Requests) > 100 {
			g.fail(w, http.StatusBadRequest, "gatewaytest: gemini: batchEmbedContents needs 1–100 requests")
			return
		}
		var out []map[string]any
		for i := range req.Requests {
			out = append(out, g.vector(&req.Requests[i]))
		}
		writeJSON(w, map[string]any{"embeddings": out})
	default:
		g.fail(w, http.StatusNotFound, "gatewaytest: gemini: unknown method "+method)
	}
}

// checkGeminiRequest decodes body into req and returns what a real Gemini
// would refuse in it, or "".
func checkGeminiRequest(body []byte, req *fakeGeminiRequest) string {
	if err := json.Unmarshal(body, req); err != nil {
		return "gatewaytest: gemini: invalid JSON payload"
	}
	if len(req.Contents) == 0 {
		return "gatewaytest: gemini: contents is not specified"
	}
	for i, c := range req.Contents {
		if c.Role != "user" && c.Role != "model" {
			return "gatewaytest: gemini: contents[" + strconv.Itoa(i) + "].role must be user or model"
		}
		if len(c.Parts) == 0 {
			return "gatewaytest: gemini: contents[" + strconv.Itoa(i) + "].parts must not be empty"
		}
		for _, raw := range c.Parts {
			var p fakeGeminiPart
			if json.Unmarshal(raw, &p) != nil {
				return "gatewaytest: gemini: invalid part"
			}
			if p.FunctionResponse != nil && p.FunctionResponse.Name == "" {
				return "gatewaytest: gemini: function_response.name must not be empty"
			}
		}
	}
	return ""
}

// promptTokens is a request's text length / 4, at least 1.
func promptTokens(req *fakeGeminiRequest) int {
	n := 0
	count := func(parts []json.RawMessage) {
		for _, raw := range parts {
			n += len(raw)
		}
	}
	for _, c := range req.Contents {
		count(c.Parts)
	}
	if req.SystemInstruction != nil {
		count(req.SystemInstruction.Parts)
	}
	return max(1, n/4)
}

// response builds one answer or stream event. final adds the finish reason
// and the whole usage.
func (g *GeminiServer) response(model string, req *fakeGeminiRequest, reply GeminiReply, text, thought string,
	calls []GeminiFunctionCall, final bool) map[string]any {
	out := map[string]any{"modelVersion": model, "responseId": "gemini-fake-" + strconv.FormatUint(geminiSeq.Add(1), 10)}
	if reply.BlockReason != "" {
		out["promptFeedback"] = map[string]any{"blockReason": reply.BlockReason}
		out["usageMetadata"] = map[string]any{"promptTokenCount": promptTokens(req)}
		return out
	}
	var parts []map[string]any
	if thought != "" {
		parts = append(parts, map[string]any{"text": thought, "thought": true})
	}
	if text != "" {
		parts = append(parts, map[string]any{"text": text})
	}
	for _, fc := range calls {
		call := map[string]any{"name": fc.Name, "args": fc.Args}
		if fc.Args == nil {
			call["args"] = map[string]any{}
		}
		if fc.ID != "" {
			call["id"] = fc.ID
		}
		p := map[string]any{"functionCall": call}
		if fc.ThoughtSignature != "" {
			p["thoughtSignature"] = fc.ThoughtSignature
		}
		parts = append(parts, p)
	}
	cand := map[string]any{"index": 0, "content": map[string]any{"role": "model", "parts": parts}}
	if final {
		cand["finishReason"] = reply.FinishReason
	}
	out["candidates"] = []any{cand}
	if !reply.NoUsage {
		u := reply.Usage
		if u.PromptTokens == 0 {
			u.PromptTokens = promptTokens(req)
		}
		if u.CandidatesTokens == 0 {
			u.CandidatesTokens = len(strings.Fields(reply.Text)) + len(reply.FunctionCalls)
		}
		um := map[string]any{"promptTokenCount": u.PromptTokens, "totalTokenCount": u.PromptTokens}
		if final {
			um["candidatesTokenCount"] = u.CandidatesTokens
			um["totalTokenCount"] = u.PromptTokens + u.CandidatesTokens + u.ThoughtsTokens
			if u.CachedTokens > 0 {
				um["cachedContentTokenCount"] = u.CachedTokens
			}
			if u.ThoughtsTokens > 0 {
				um["thoughtsTokenCount"] = u.ThoughtsTokens
			}
		}
		out["usageMetadata"] = um
	}
	return out
}

// stream sends the reply as Gemini's SSE events, flushed one by one: the
// thought, a word of text an event, the function calls, then an event with
// the finish reason and the whole usage. Gemini sends no [DONE].
func (g *GeminiServer) stream(w http.ResponseWriter, model string, req *fakeGeminiRequest, reply GeminiReply, f GeminiFaults) {
	type piece struct {
		text, thought string
		calls         []GeminiFunctionCall
	}
	var pieces []piece
	if reply.Thought != "" {
		pieces = append(pieces, piece{thought: reply.Thought})
	}
	for _, w := range words(reply.Text) {
		pieces = append(pieces, piece{text: w})
	}
	if len(reply.FunctionCalls) > 0 {
		pieces = append(pieces, piece{calls: reply.FunctionCalls})
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(v any) bool {
		b, _ := json.Marshal(v)
		if _, err := w.Write(append(append([]byte("data: "), b...), "\r\n\r\n"...)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	events := 0
	for i := range pieces {
		if f.CutStreams && events == f.CutAfter {
			g.cut(w, f, send)
			return
		}
		last := i == len(pieces)-1
		if !send(g.response(model, req, reply, pieces[i].text, pieces[i].thought, pieces[i].calls, last)) {
			return
		}
		events++
	}
	if f.CutStreams && events == f.CutAfter {
		g.cut(w, f, send)
		return
	}
	if len(pieces) == 0 { // a blocked prompt, or an empty reply
		send(g.response(model, req, reply, "", "", nil, true))
	}
}

// cut ends a stream as a fault: an error event, or the end of the body
// with no finish reason (the handler returns; net/http ends the chunked
// body cleanly, as a proxy that drops an upstream would).
func (g *GeminiServer) cut(w http.ResponseWriter, f GeminiFaults, send func(any) bool) {
	if f.ErrorEvent {
		var e map[string]any
		_ = json.Unmarshal(geminiError(http.StatusServiceUnavailable, "The model is overloaded. Please try again later."), &e)
		send(e)
	}
}

// vector is a deterministic unit vector for an embedding request.
func (g *GeminiServer) vector(req *fakeEmbedRequest) map[string]any {
	dims := g.dims
	if d := req.OutputDimensionality; d > 0 && d <= maxEmbeddingDims {
		dims = d
	}
	var text strings.Builder
	for _, p := range req.Content.Parts {
		text.WriteString(p.Text)
	}
	h := hashBytes([]byte(text.String()))
	vals := make([]float64, dims)
	var norm float64
	for i := range vals {
		h ^= h << 13
		h ^= h >> 7
		h ^= h << 17
		vals[i] = float64(int64(h%2001)-1000) / 1000
		norm += vals[i] * vals[i]
	}
	norm = math.Sqrt(norm)
	for i := range vals {
		if norm > 0 {
			vals[i] = math.Round(vals[i]/norm*1e6) / 1e6
		}
	}
	return map[string]any{"values": vals}
}

func (g *GeminiServer) list(w http.ResponseWriter) {
	var ms []map[string]any
	for _, m := range g.models {
		ms = append(ms, map[string]any{"name": "models/" + m, "supportedGenerationMethods": []string{"generateContent", "embedContent"}})
	}
	writeJSON(w, map[string]any{"models": ms})
}

// fault answers with the configured error status, in Gemini's shape.
func (g *GeminiServer) fault(w http.ResponseWriter, f GeminiFaults) {
	switch f.Status {
	case http.StatusUnauthorized, http.StatusForbidden:
		g.badKey(w)
	case http.StatusTooManyRequests:
		var details []map[string]any
		if f.RetryDelay > 0 {
			details = append(details, map[string]any{"@type": "type.googleapis.com/google.rpc.RetryInfo",
				"retryDelay": strconv.FormatFloat(f.RetryDelay.Seconds(), 'f', -1, 64) + "s"})
		}
		writeStatus(w, f.Status, geminiError(f.Status, "You exceeded your current quota, please check your plan and billing details.", details...))
	default:
		writeStatus(w, f.Status, geminiError(f.Status, http.StatusText(f.Status)))
	}
}

// badKey is how Gemini answers a missing or wrong key: 400, not 401.
func (g *GeminiServer) badKey(w http.ResponseWriter) {
	writeStatus(w, http.StatusBadRequest, geminiError(http.StatusBadRequest, "API key not valid. Please pass a valid API key.",
		map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}))
}

func (g *GeminiServer) fail(w http.ResponseWriter, status int, msg string) {
	writeStatus(w, status, geminiError(status, msg))
}

func writeStatus(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, _ := json.Marshal(v)
	writeStatus(w, http.StatusOK, b)
}
