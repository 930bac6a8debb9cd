package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCallReadsFields(t *testing.T) {
	type fields struct {
		Model                string
		Stream, IncludeUsage bool
		MaxTokens            int
	}
	tests := []struct {
		name string
		op   Op
		body string
		want fields
	}{
		{"chat", OpChat, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
			fields{Model: "gpt-4o"}},
		{"stream with usage", OpChat, `{"stream":true,"stream_options":{"include_usage":true},"model":"m","messages":[]}`,
			fields{Model: "m", Stream: true, IncludeUsage: true}},
		{"stream false and null options", OpChat, `{"model":"m","stream":false,"stream_options":null,"messages":[]}`,
			fields{Model: "m"}},
		{"max_tokens", OpChat, `{"model":"m","max_tokens":128,"messages":[]}`, fields{Model: "m", MaxTokens: 128}},
		{"max_completion_tokens", OpChat, `{"model":"m","max_completion_tokens":64,"messages":[]}`, fields{Model: "m", MaxTokens: 64}},
		{"null max_tokens", OpChat, `{"model":"m","max_tokens":null,"messages":[]}`, fields{Model: "m"}},
		{"escaped model", OpChat, `{"model":"gpt\u002d4","messages":[]}`, fields{Model: "gpt-4"}},
		{"escaped keys", OpChat, `{"mod\u0065l":"m","str\u0065am":true,"max_tok\u0065ns":7}`, fields{Model: "m", Stream: true, MaxTokens: 7}},
		{"whitespace", OpChat, " \n{ \"model\" : \"m\" ,\t\"messages\" : [ ] } \n", fields{Model: "m"}},
		{"completion", OpCompletion, `{"model":"m","prompt":"say hi"}`, fields{Model: "m"}},
		{"embedding", OpEmbedding, `{"model":"e","input":["a","b"]}`, fields{Model: "e"}},
		{"unknown fields skipped", OpChat, `{"x":{"y":[1,2,{"z":"w"}]},"model":"m","temperature":0.5e-1,"messages":[]}`, fields{Model: "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCall(tt.op, []byte(tt.body), Limits{})
			require.NoError(t, err)
			assert.Equal(t, tt.want.Model, c.Model)
			assert.Equal(t, tt.want.Stream, c.Stream)
			assert.Equal(t, tt.want.IncludeUsage, c.IncludeUsage)
			assert.Equal(t, tt.want.MaxTokens, c.MaxTokens)
		})
	}
}

func TestParseCallRejectsBadInput(t *testing.T) {
	deep := strings.Repeat("[", 70) + strings.Repeat("]", 70)
	tests := []struct {
		name, body, msg string
		lim             Limits
	}{
		{"empty", ``, "empty", Limits{}},
		{"not an object", `[1,2]`, "JSON object", Limits{}},
		{"malformed", `{"model":"m",}`, "invalid JSON", Limits{}},
		{"truncated", `{"model":"m","messages":[{"role":"user"`, "invalid JSON", Limits{}},
		{"trailing data", `{"model":"m"} x`, "unexpected data", Limits{}},
		{"two objects", `{"model":"m"}{"model":"n"}`, "unexpected data", Limits{}},
		{"bad escape", `{"model":"m\q"}`, "invalid JSON", Limits{}},
		{"control char", "{\"model\":\"m\x01\"}", "invalid JSON", Limits{}},
		{"missing model", `{"messages":[]}`, "missing model", Limits{}},
		{"empty model", `{"model":"","messages":[]}`, "missing model", Limits{}},
		{"model not a string", `{"model":42}`, "model must be a string", Limits{}},
		{"duplicate model", `{"model":"cheap","messages":[],"model":"expensive"}`, "duplicate model", Limits{}},
		// Regression: escaped or case-variant keys read by another decoder as
		// a field the gateway checks would bypass the model check, limits
		// and stream handling.
		{"escaped duplicate model", `{"model":"allowed","mod\u0065l":"forbidden"}`, "duplicate model", Limits{}},
		{"escaped max_tokens over limit", `{"model":"m","max_tok\u0065ns":5000}`, "exceeds the limit of 4096", Limits{MaxTokens: 4096}},
		{"case variant of stream", `{"model":"m","STREAM":true}`, "ambiguous field STREAM", Limits{}},
		{"case variant of max_tokens", `{"model":"m","Max_Tokens":99999999}`, "ambiguous field Max_Tokens", Limits{}},
		{"escaped case variant", `{"model":"m","Str\u0065am_options":{}}`, "ambiguous field Stream_options", Limits{}},
		{"case variant of messages", `{"model":"m","Messages":[]}`, "ambiguous field Messages", Limits{}},
		{"case variant of model", `{"model":"cheap","messages":[],"MODEL":"expensive"}`, "ambiguous field MODEL", Limits{}},
		{"NUL after object", "{\"model\":\"m\"}\x00", "unexpected data", Limits{}},
		{"stream not bool", `{"model":"m","stream":"yes"}`, "stream must be a boolean", Limits{}},
		{"negative max_tokens", `{"model":"m","max_tokens":-1}`, "non-negative integer", Limits{}},
		{"fractional max_tokens", `{"model":"m","max_tokens":1.5}`, "non-negative integer", Limits{}},
		{"huge max_tokens", `{"model":"m","max_tokens":99999999999999999999}`, "non-negative integer", Limits{}},
		{"max_tokens over limit", `{"model":"m","max_tokens":5000}`, "exceeds the limit of 4096", Limits{MaxTokens: 4096}},
		{"too deep", `{"model":"m","x":` + deep + `}`, "nested deeper than 64", Limits{}},
		{"too many messages", `{"model":"m","messages":[{},{},{}]}`, "too many messages", Limits{MaxMessages: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseCall(OpChat, []byte(tt.body), tt.lim)
			require.Error(t, err)
			assert.Zero(t, c)
			assert.ErrorIs(t, err, ErrBadRequest)
			assert.Contains(t, err.Error(), tt.msg)
			assert.Equal(t, 400, ErrorFor(err).Status)
		})
	}
}

func TestParseCallEstimatesPromptTokens(t *testing.T) {
	text := strings.Repeat("abcd", 250) // 1000 ASCII bytes ≈ 250 tokens
	body := `{"model":"m","messages":[{"role":"system","content":"` + text + `"},{"role":"user","content":"` + text + `"}]}`
	c, err := parseCall(OpChat, []byte(body), Limits{})
	require.NoError(t, err)
	// 2000 bytes of content plus role strings, 4 tokens a message, 3 priming.
	assert.InDelta(t, 500+2*tokensPerMessage+3+4, c.PromptTokens, 6)

	cjk := strings.Repeat("漢", 300) // 900 bytes, about a token a character
	c, err = parseCall(OpCompletion, []byte(`{"model":"m","prompt":"`+cjk+`"}`), Limits{})
	require.NoError(t, err)
	assert.Equal(t, 300, c.PromptTokens)

	c, err = parseCall(OpEmbedding, []byte(`{"model":"m","input":[[1,2,3],[4,5]]}`), Limits{})
	require.NoError(t, err)
	assert.Equal(t, 5, c.PromptTokens, "token-id inputs count a token per id")
}

func TestCallIDsAreUnique(t *testing.T) {
	seen := make(map[string]bool, 10000)
	for range 10000 {
		c := &Call{}
		c.newID()
		require.Len(t, c.ID, idLen)
		require.True(t, strings.HasPrefix(c.ID, "call_"))
		require.False(t, seen[c.ID], "duplicate id %s", c.ID)
		seen[c.ID] = true
	}
}

func outboundOf(t *testing.T, body string) Outbound {
	t.Helper()
	p, err := parseCall(OpChat, []byte(body), Limits{})
	require.NoError(t, err)
	return Outbound{Model: p.Model, Body: []byte(body), spans: p.spans}
}

func TestOutboundEdits(t *testing.T) {
	body := `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	o := outboundOf(t, body)

	u, err := o.withIncludeUsage()
	require.NoError(t, err)
	r := (&u).renamed(`dep"loy`)
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m))
	assert.Equal(t, `dep"loy`, m["model"])
	assert.Equal(t, `dep"loy`, r.Model)
	assert.Equal(t, map[string]any{"include_usage": true}, m["stream_options"])
	assert.Equal(t, body, string(o.Body), "an edit never modifies its input")

	// Renamed twice: the model's position follows each edit.
	r2 := r.renamed("m2")
	require.NoError(t, json.Unmarshal(r2.Body, &m))
	assert.Equal(t, "m2", m["model"])

	// stream_options present without include_usage: rewritten, other options kept.
	o = outboundOf(t, `{"model":"m","stream":true,"stream_options":{"x":1},"messages":[]}`)
	u, err = o.withIncludeUsage()
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(u.Body, &m))
	assert.Equal(t, map[string]any{"include_usage": true, "x": float64(1)}, m["stream_options"])
	// Its positions are lost; a rename scans the body for the model.
	r = (&u).renamed("n")
	require.NoError(t, json.Unmarshal(r.Body, &m))
	assert.Equal(t, "n", m["model"])

	// A model name that needs escaping.
	r = outboundOf(t, `{"model":"m","n":1}`).renamed("x\n")
	assert.JSONEq(t, `{"model":"x\n","n":1}`, string(r.Body))
}

func TestIncludeUsageOnAnEmptyObject(t *testing.T) {
	o := Outbound{Body: []byte(" { } ")}
	out, err := o.withIncludeUsage()
	require.NoError(t, err)
	assert.True(t, json.Valid(out.Body), "%s", out.Body)
}

// The scanner must accept exactly what encoding/json accepts.
func FuzzScannerAgreesWithJSONValid(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5e3,-0,true,false,null,"x\u00e9\n"]}`, `[`, `{"a":}`, `01`, `1.`, `-`, `"\ud800"`, `{"a":1,}`, "\"\x7f\"", `1e+`, ` [ ] `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := jsonScanner{b: b, maxDepth: 1 << 20}
		err := s.value(nil)
		ok := err == nil && s.atEnd()
		if ok != json.Valid(b) {
			t.Fatalf("scanner says %v, json.Valid says %v for %q", ok, json.Valid(b), b)
		}
	})
}

// Whatever ParseCall accepts, encoding/json reads the same model and flags.
func FuzzParseCall(f *testing.F) {
	f.Add([]byte(`{"model":"m","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"model":"a\"b","stream_options":{"include_usage":true}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCall(OpChat, b, Limits{})
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) || ge.Status != 400 {
				t.Fatalf("error is not a 400 gateway error: %v", err)
			}
			return
		}
		// Field names are case-sensitive upstream (OpenAI's servers), so
		// compare with exact keys, not encoding/json's case folding.
		var v map[string]json.RawMessage
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("ParseCall accepted what encoding/json rejects: %v", err)
		}
		var model string
		if err := json.Unmarshal(v["model"], &model); err != nil || model != c.Model {
			t.Fatalf("model %q, encoding/json reads %q (%v)", c.Model, model, err)
		}
		var stream bool
		if raw, ok := v["stream"]; ok {
			_ = json.Unmarshal(raw, &stream)
		}
		if stream != c.Stream {
			t.Fatalf("stream %v disagrees", c.Stream)
		}
	})
}
