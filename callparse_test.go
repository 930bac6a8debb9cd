package gateway

import (
	"encoding/json"
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
		// Regression (issue 8): usage turned off upstream by a crafted body
		// while the gateway believed it on. Every field the gateway reads,
		// at any depth, is matched on its decoded name, and a duplicate or
		// a case variant of it is refused, so first-wins, last-wins and
		// case-folding decoders all read what the gateway read.
		{"escaped duplicate include_usage", `{"model":"m","stream":true,"stream_options":{"include_usage":true,"include\u005fusage":false}}`, "duplicate stream_options.include_usage", Limits{}},
		{"duplicate include_usage", `{"model":"m","stream":true,"stream_options":{"include_usage":true,"include_usage":false}}`, "duplicate stream_options.include_usage", Limits{}},
		{"case variant of include_usage", `{"model":"m","stream":true,"stream_options":{"include_usage":true,"Include_Usage":false}}`, "ambiguous field stream_options.Include_Usage", Limits{}},
		{"duplicate stream_options", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"stream_options":{}}`, "duplicate stream_options", Limits{}},
		{"escaped duplicate stream_options", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"stream\u005foptions":null}`, "duplicate stream_options", Limits{}},
		{"duplicate stream", `{"model":"m","stream":false,"stream":true}`, "duplicate stream", Limits{}},
		{"duplicate max_tokens", `{"model":"m","max_tokens":1,"max_tokens":4000}`, "duplicate max_tokens", Limits{}},
		{"duplicate max_completion_tokens", `{"model":"m","max_completion_tokens":1,"max_completion_tokens":4000}`, "duplicate max_completion_tokens", Limits{}},
		{"duplicate messages", `{"model":"m","messages":[],"messages":[{"role":"user","content":"hi"}]}`, "duplicate messages", Limits{}},
		// Go's case folding is Unicode's: U+017F (ſ) folds to s, U+212A (K)
		// to k, so a key of another length can still name a field.
		{"long s variant of stream", `{"model":"m","ſtream":true}`, "ambiguous field", Limits{}},
		{"Kelvin sign variant of max_tokens", `{"model":"m","max_to\u212aens":99999999}`, "ambiguous field", Limits{}},
		{"long s variant of include_usage", `{"model":"m","stream_options":{"include_u\u017fage":false}}`, "ambiguous field", Limits{}},
		{"stream_options not an object", `{"model":"m","stream_options":[true]}`, "stream_options must be an object", Limits{}},
		{"include_usage not a bool", `{"model":"m","stream_options":{"include_usage":1}}`, "include_usage must be a boolean", Limits{}},
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
		c.newID(new(callNames))
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
