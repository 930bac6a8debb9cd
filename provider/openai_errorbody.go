package provider

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Upstream error answers, made fit for callers. Real upstreams put account
// details in their error bodies: OpenAI's 401 quotes the key's prefix and
// last characters ("Incorrect API key provided: sk-proj-****ab1Z"), its 429s
// name the organisation and project (org-…, proj_…), Anthropic's name the
// organisation's UUID, others an account's email. Callers of a gateway are
// not the upstream account's owners, so unless VerbatimErrors is set the
// body is rebuilt from what is safe to show.

const (
	// maxErrorBody bounds the upstream error body read; a longer one is
	// not an error object any upstream sends, and gets the generic message.
	maxErrorBody = 64 << 10
	// maxErrorMessage bounds the message shown to callers, in bytes.
	maxErrorMessage = 1 << 10
	redacted        = "[REDACTED]"
)

// accountHeaders name the upstream account on every answer; an error answer
// drops them with the body's account details.
var accountHeaders = []string{"Openai-Organization", "Openai-Project", "Anthropic-Organization-Id"}

// sanitizeError replaces the body of resp, an upstream's error answer, with
// an OpenAI-style error for callers: {"error":{"message","type","param",
// "code"}}. The status and the other headers (Retry-After, x-ratelimit-*,
// request ids) stay, for the breaker and the router to classify and the
// caller to read. The message is a fixed one for 401 and 403 (what the
// upstream says about the gateway's own credentials is the operator's
// business), and otherwise the upstream's with the configured secrets and
// anything that looks like a key, an account id or an email removed; type,
// param and code stay when they are plain identifiers.
//
// The body is rebuilt when it is first read, not here: an upstream may send
// its error headers and stall the body, and a router falling back to
// another target must not wait for it (it holds a failure unread).
func (p *OpenAI) sanitizeError(resp *http.Response) {
	h := resp.Header
	for _, k := range accountHeaders {
		h.Del(k)
	}
	h.Del("Content-Encoding")
	h.Del("Content-Length")
	h.Set("Content-Type", "application/json")
	resp.Body = &errorBody{p: p, src: resp.Body, status: resp.StatusCode}
	resp.ContentLength = -1
	resp.TransferEncoding = nil
	resp.Uncompressed = false
}

// errorBody is an upstream error body, rebuilt for callers on its first
// Read. Close may be called concurrently with Read (it ends a stalled one).
type errorBody struct {
	p      *OpenAI
	src    io.ReadCloser
	status int

	once sync.Once
	r    bytes.Reader
}

func (b *errorBody) Read(q []byte) (int, error) {
	b.once.Do(func() {
		raw, err := io.ReadAll(io.LimitReader(b.src, maxErrorBody+1))
		b.src.Close()
		b.r.Reset(b.p.rebuildError(b.status, raw, err))
	})
	return b.r.Read(q)
}

func (b *errorBody) Close() error { return b.src.Close() }

// rebuildError is the body sanitizeError shows for an upstream error of the
// given status whose body was raw (read with err).
func (p *OpenAI) rebuildError(status int, raw []byte, err error) []byte {
	var d errorFields
	if err == nil && len(raw) <= maxErrorBody {
		d = parseErrorBody(raw)
	}
	out := errorJSON{Type: defaultErrorType(status)}
	if t, ok := p.identifier(d.Type, 64, false); ok {
		out.Type = t
	}
	if c, ok := p.identifier(d.Code, 64, false); ok {
		out.Code = &c
	}
	if pa, ok := p.identifier(d.Param, 128, true); ok {
		out.Param = &pa
	}
	switch {
	case status == http.StatusUnauthorized:
		out.Message = "upstream rejected the gateway's credentials"
	case status == http.StatusForbidden:
		out.Message = "upstream denied the gateway's credentials access to this request"
	default:
		out.Message = truncateUTF8(p.redact(d.Message), maxErrorMessage)
	}
	if strings.TrimSpace(out.Message) == "" {
		out.Message = strings.TrimSpace("upstream answered " + strconv.Itoa(status) + " " + http.StatusText(status))
	}
	body, _ := json.Marshal(struct {
		Error errorJSON `json:"error"`
	}{out})
	return append(body, '\n')
}

type errorJSON struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// errorFields are an upstream error's parts, as the upstream sent them.
type errorFields struct {
	Message           string
	Type, Param, Code json.RawMessage
}

// parseErrorBody reads the error shapes upstreams send:
// {"error":{"message","type","param","code"}} (OpenAI, Azure),
// {"type":"error","error":{"type","message"}} (Anthropic), a list of one
// such object (Gemini), {"error":"text"} (Ollama) and
// {"object":"error","message","type","code"} (vLLM). Anything else has no
// fields.
func parseErrorBody(raw []byte) errorFields {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return errorFields{}
		}
		raw = list[0]
	}
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Type    json.RawMessage `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(raw, &env) != nil {
		return errorFields{}
	}
	switch e := bytes.TrimSpace(env.Error); {
	case len(e) > 0 && e[0] == '"':
		var f errorFields
		_ = json.Unmarshal(e, &f.Message)
		return f
	case len(e) > 0 && e[0] == '{':
		var inner struct {
			Message, Type, Param, Code json.RawMessage
		}
		if json.Unmarshal(e, &inner) != nil {
			return errorFields{}
		}
		env.Message, env.Type, env.Param, env.Code = inner.Message, inner.Type, inner.Param, inner.Code
	case env.Message == nil:
		return errorFields{}
	}
	f := errorFields{Type: env.Type, Param: env.Param, Code: env.Code}
	_ = json.Unmarshal(env.Message, &f.Message)
	return f
}

// defaultErrorType is the type of an error whose upstream named none (or
// none that is safe to show).
func defaultErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

// identifier returns raw, a JSON string or integer, when it is a plain
// identifier of at most limit bytes ("invalid_api_key", "429", with brackets
// "messages[0].content") that the redaction leaves alone.
func (p *OpenAI) identifier(raw json.RawMessage, limit int, brackets bool) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		if _, err := n.Int64(); err != nil {
			return "", false
		}
		s = n.String()
	}
	if s == "" || len(s) > limit {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c == '_' || c == '-' || c == '.' || brackets && (c == '[' || c == ']')) {
			return "", false
		}
	}
	return s, p.redact(s) == s
}

// redact removes from s the provider's own secrets and URL queries (scrub),
// then every word that looks like an account detail (accountDetail).
func (p *OpenAI) redact(s string) string {
	s = p.scrub(s)
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		if !isWordByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		w := strings.TrimRight(s[i:j], ".")
		if accountDetail(w) {
			b.WriteString(s[last:i])
			b.WriteString(redacted)
			last = i + len(w)
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// isWordByte reports whether c may be part of a key, an id or an email.
func isWordByte(c byte) bool {
	return isAlnum(c) || c == '_' || c == '-' || c == '.' || c == '*' || c == '@' || c == '+'
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// keyPrefixes begin API keys; idPrefixes begin OpenAI's organisation,
// project, user and session ids and similar account ids.
var (
	keyPrefixes = []string{"sk-", "sk_", "rk-", "pk-", "key-"}
	idPrefixes  = []string{"org-", "org_", "proj_", "proj-", "user-", "acct_", "acct-", "sess-"}
)

// accountDetail reports whether the word w (letters, digits and _-.*@+)
// looks like a key, a masked key, an account id, an email or an opaque
// token. It errs towards redaction: a message loses a word, never a secret
// of a known shape. Plain words, model names ("gpt-4o-mini-2024-07-18"),
// numbers and request ids pass.
func accountDetail(w string) bool {
	if strings.Contains(w, "**") {
		return true // a masked key: sk-uppp****ab1Z
	}
	if at := strings.IndexByte(w, '@'); at > 0 && strings.Contains(w[at+1:], ".") {
		return true
	}
	lw := strings.ToLower(w)
	for _, pre := range keyPrefixes {
		if strings.HasPrefix(lw, pre) && len(w) >= len(pre)+4 {
			return true
		}
	}
	for _, pre := range idPrefixes {
		if !strings.HasPrefix(lw, pre) {
			continue
		}
		// Ids are random: "user-provided" is a word, user-Zx9Yw8… an id.
		if rest := w[len(pre):]; len(rest) >= 6 && strings.ContainsAny(rest, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			return true
		}
	}
	return hasUUID(w) || hasOpaqueToken(w)
}

// hasUUID reports whether w holds a UUID (8-4-4-4-12 hex digits), as
// Anthropic's organisation ids and Azure's subscription ids are.
func hasUUID(w string) bool {
	const n = 36
	for i := 0; i+n <= len(w); i++ {
		ok := true
		for k := 0; k < n && ok; k++ {
			c := w[i+k]
			if k == 8 || k == 13 || k == 18 || k == 23 {
				ok = c == '-'
			} else {
				ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// hasOpaqueToken reports whether w holds a run of letters and digits that
// can only be a token or an account number: 20 or more with both letters
// and digits (Azure's hex keys), or 12 or more digits (AWS account ids).
func hasOpaqueToken(w string) bool {
	for i := 0; i < len(w); {
		j, letters, digits := i, 0, 0
		for j < len(w) && isAlnum(w[j]) {
			if w[j] <= '9' {
				digits++
			} else {
				letters++
			}
			j++
		}
		if letters+digits >= 20 && letters > 0 && digits > 0 || letters == 0 && digits >= 12 {
			return true
		}
		i = j + 1
	}
	return false
}

// truncateUTF8 cuts s to at most n bytes, at a character boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
