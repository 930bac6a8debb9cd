package gatewaytest

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/jsonstr"
)

// The Sim writes its JSON by hand, in OpenAI's exact shapes, so that a call
// costs a few allocations and no reflection.

// appendCompletion appends a whole chat.completion or text_completion.
func (s *Sim) appendCompletion(b []byte, sc *simCall) []byte {
	n := s.ReplyTokens(sc.maxTokens)
	chat := sc.op == gateway.OpChat
	if chat {
		b = append(b, `{"id":"chatcmpl-sim`...)
	} else {
		b = append(b, `{"id":"cmpl-sim`...)
	}
	b = strconv.AppendUint(b, nextID(), 10)
	if chat {
		b = append(b, `","object":"chat.completion","created":`...)
	} else {
		b = append(b, `","object":"text_completion","created":`...)
	}
	b = strconv.AppendInt(b, s.clock.Now().Unix(), 10)
	b = append(b, `,"model":`...)
	b = jsonstr.Append(b, sc.model)
	if chat {
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	} else {
		b = append(b, `,"choices":[{"index":0,"text":"`...)
	}
	for i := range n {
		b = append(b, s.token(i)...)
	}
	if chat {
		b = append(b, `"},"logprobs":null,"finish_reason":"`...)
	} else {
		b = append(b, `","logprobs":null,"finish_reason":"`...)
	}
	b = append(b, s.finishReason(n)...)
	b = append(b, `"}],`...)
	b = appendUsage(b, sc.prompt, n)
	return append(b, `,"system_fingerprint":null}`...)
}

// finishReason is "length" when max_tokens cut the reply, "stop" otherwise.
func (s *Sim) finishReason(n int) string {
	if n < s.nTokens {
		return "length"
	}
	return "stop"
}

func appendUsage(b []byte, prompt, completion int) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	return append(b, '}')
}

// appendModels appends the model list. A Sim that serves any model lists none.
func (s *Sim) appendModels(b []byte) []byte {
	b = append(b, `{"object":"list","data":[`...)
	for i, m := range s.models {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = jsonstr.Append(b, m)
		b = append(b, `,"object":"model","created":`...)
		b = strconv.AppendInt(b, s.created, 10)
		b = append(b, `,"owned_by":`...)
		b = jsonstr.Append(b, s.name)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

// appendEmbeddings appends an embeddings list: one unit vector per input,
// derived from the input's hash, so equal inputs get equal vectors.
func (s *Sim) appendEmbeddings(b []byte, sc *simCall) []byte {
	b = append(b, `{"object":"list","data":[`...)
	var raw []byte
	for i, h := range sc.inputs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		vec := embedding(h, sc.dims)
		if sc.base64 {
			raw = raw[:0]
			for _, v := range vec {
				raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
			}
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, raw)
			b = append(b, '"')
		} else {
			b = append(b, '[')
			for j, v := range vec {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendFloat(b, float64(v), 'g', -1, 32)
			}
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	b = jsonstr.Append(b, sc.model)
	b = append(b, `,"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(sc.prompt), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(sc.prompt), 10)
	return append(b, "}}"...)
}

// embedding returns a deterministic unit vector of dims for seed h.
func embedding(h uint64, dims int) []float32 {
	vec := make([]float32, dims)
	var norm float64
	x := h
	for i := range vec {
		x += 0x9e3779b97f4a7c15 // splitmix64
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		v := float64(z>>11)/(1<<53)*2 - 1
		vec[i] = float32(v)
		norm += v * v
	}
	if norm > 0 {
		inv := 1 / math.Sqrt(norm)
		for i := range vec {
			vec[i] = float32(float64(vec[i]) * inv)
		}
	}
	return vec
}

// errorShape gives the OpenAI type and code of a simulated error status.
func errorShape(status int) (typ, code string) {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error", "invalid_request"
	case http.StatusUnauthorized:
		return "invalid_request_error", "invalid_api_key"
	case http.StatusForbidden:
		return "permission_error", "permission_denied"
	case http.StatusNotFound:
		return "invalid_request_error", "not_found"
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return "timeout_error", "timeout"
	case http.StatusRequestEntityTooLarge:
		return "invalid_request_error", "request_too_large"
	case http.StatusTooManyRequests:
		return "requests", "rate_limit_exceeded"
	case http.StatusServiceUnavailable:
		return "server_error", "overloaded"
	}
	if status < 500 {
		return "invalid_request_error", "invalid_request"
	}
	return "server_error", "server_error"
}

func appendError(b []byte, typ, code, msg string) []byte {
	b = append(b, `{"error":{"message":`...)
	b = jsonstr.Append(b, msg)
	b = append(b, `,"type":`...)
	b = jsonstr.Append(b, typ)
	b = append(b, `,"param":null,"code":`...)
	b = jsonstr.Append(b, code)
	return append(b, "}}\n"...)
}

// errorResponse returns an OpenAI-style error response; code and msg default
// from the status. retry sets Retry-After and Retry-After-Ms on 429 and 503.
func (s *Sim) errorResponse(req *http.Request, status int, code, msg string, retry time.Duration) *http.Response {
	typ, defCode := errorShape(status)
	if code == "" {
		code = defCode
	}
	if msg == "" {
		msg = "gatewaytest: sim " + s.name + ": simulated " + strconv.Itoa(status) + " " + http.StatusText(status)
	}
	r := s.newJSON(req, status)
	r.body.buf = appendError(r.body.buf, typ, code, msg)
	if retry > 0 && (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) {
		secs := int64((retry + time.Second - 1) / time.Second)
		r.resp.Header.Set("Retry-After", strconv.FormatInt(secs, 10))
		r.resp.Header.Set("Retry-After-Ms", strconv.FormatInt(retry.Milliseconds(), 10))
	}
	return r.done()
}
