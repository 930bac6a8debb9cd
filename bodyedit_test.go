package gateway

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOutboundEdits(t *testing.T) {
	body := `{"model":"gpt-4.1","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	o := outboundOf(t, body)

	u, err := o.withIncludeUsage()
	require.NoError(t, err)
	r := u.renamed(`dep"loy`)
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

	// A model name that needs escaping.
	r = outboundOf(t, `{"model":"m","n":1}`).renamed("x\n")
	assert.JSONEq(t, `{"model":"x\n","n":1}`, string(r.Body))
}

// Regression (issue 8): a stream whose stream_options lacked
// include_usage:true was decoded into maps and re-encoded (2.4 s and 243 MiB
// for a 10 MiB body of many keys; key order and number spellings lost). The
// edit is now one copy of the body that changes only what it must.
func TestIncludeUsageEditsInPlace(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"no stream_options",
			`{ "model":"m","stream":true}`,
			`{"stream_options":{"include_usage":true}, "model":"m","stream":true}`},
		{"options without include_usage",
			`{"z":1.0e0,"model":"m","stream":true,"stream_options":{"x":"\u00e9"},"a":[1,2]}`,
			`{"z":1.0e0,"model":"m","stream":true,"stream_options":{"include_usage":true,"x":"\u00e9"},"a":[1,2]}`},
		{"empty options",
			`{"model":"m","stream":true,"stream_options":{ }}`,
			`{"model":"m","stream":true,"stream_options":{"include_usage":true }}`},
		{"null options",
			`{"stream_options" : null ,"model":"m","stream":true}`,
			`{"stream_options" : {"include_usage":true} ,"model":"m","stream":true}`},
		{"include_usage false",
			`{"stream":true,"stream_options":{"x":1,"include_usage" : false,"y":2},"model":"m"}`,
			`{"stream":true,"stream_options":{"x":1,"include_usage" : true,"y":2},"model":"m"}`},
		{"include_usage null",
			`{"stream":true,"stream_options":{"include_usage":null},"model":"m"}`,
			`{"stream":true,"stream_options":{"include_usage":true},"model":"m"}`},
		{"include_usage true",
			`{"stream":true,"stream_options":{"include_usage":true},"model":"m"}`,
			`{"stream":true,"stream_options":{"include_usage":true},"model":"m"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := outboundOf(t, tt.body)
			u, err := o.withIncludeUsage()
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(u.Body))
			assert.Equal(t, tt.body, string(o.Body), "an edit never modifies its input")

			// The positions follow the edit: a rename after it lands on
			// the model, and the edit is idempotent.
			p, err := parseCall(OpChat, u.Body, Limits{})
			require.NoError(t, err)
			assert.True(t, p.IncludeUsage)
			assert.Equal(t, p.spans, u.spans)
			again, err := u.withIncludeUsage()
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(again.Body))
			r := u.renamed("n")
			p, err = parseCall(OpChat, r.Body, Limits{})
			require.NoError(t, err)
			assert.Equal(t, "n", p.Model)
			assert.True(t, p.IncludeUsage)
		})
	}
}

// An Outbound built without the parser's positions is scanned once.
func TestIncludeUsageWithoutKnownPositions(t *testing.T) {
	o := Outbound{Model: "m", Body: []byte(` {"model":"m","stream_options":{"include_usage":false}} `)}
	u, err := o.withIncludeUsage()
	require.NoError(t, err)
	assert.Equal(t, ` {"model":"m","stream_options":{"include_usage":true}} `, string(u.Body))

	_, err = Outbound{Body: []byte(`{"stream_options":`)}.withIncludeUsage()
	assert.ErrorIs(t, err, ErrBadRequest)
}
