package billing

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// marshalLine is what encodeLine must agree with: encoding/json, HTML left
// unescaped, one record per line.
func marshalLine(t testing.TB, r *Record) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(r))
	return b.Bytes()
}

// encodeLine writes a record without reflection. What it writes reads back
// as the record encoding/json would write, and, for text that needs no
// escape beyond a quote or a backslash, is the same bytes: a JSONL reader
// cannot tell the two apart.
func FuzzEncodeLineAgreesWithEncodingJSON(f *testing.F) {
	f.Add("call_1", "key-1", "acme", "up", "gpt-4o", "gpt-4o-2024", "ok", 1, 200, int64(1234567), false, true, int64(1764633600123456789), 7, 9, 3)
	f.Add("", "", "", "", "", "", "", 0, 0, int64(0), true, false, int64(0), 0, 0, 0)
	f.Add("a\"b\\c\n\t\x00<&>", "\xff\xfe", "\u2028", "é", "m\r", "x\x7f", "upstream_error", -1, 599, int64(-5), true, true, int64(-1), -1, 1<<40, 0)
	f.Fuzz(func(t *testing.T, callID, keyID, tenant, target, asked, served, outcome string, attempt, status int,
		cost int64, stream, known bool, unixNano int64, prompt, completion, cached int) {
		r := Record{CallID: callID, Attempt: attempt, Time: time.Unix(0, unixNano).UTC(), KeyID: keyID, Tenant: tenant,
			Target: target, ModelAsked: asked, ModelServed: served,
			Usage:   gateway.Usage{PromptTokens: prompt, CompletionTokens: completion, CachedTokens: cached, ReasoningTokens: cached / 2, CacheWriteTokens: prompt / 3, CacheWrite1hTokens: prompt / 5, Estimated: stream},
			Outcome: outcome, Status: status, Latency: time.Duration(cost), TTFT: time.Duration(cost / 2), Stream: stream,
			Cost: cost, CostKnown: known}
		if unixNano%2 != 0 {
			r.Time = r.Time.In(time.FixedZone("", 5*3600+30*60))
		}
		got, err := encodeLine([]byte("kept"), &r)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(got, []byte("kept")), "appends")
		got = got[len("kept"):]
		want := marshalLine(t, &r)
		var a, b Record
		require.NoError(t, json.Unmarshal(got, &a), "%s", got)
		require.NoError(t, json.Unmarshal(want, &b))
		assert.True(t, a.Time.Equal(b.Time))
		a.Time, b.Time = time.Time{}, time.Time{}
		assert.Equal(t, b, a)
		if plain(callID, keyID, tenant, target, asked, served, outcome) {
			assert.Equal(t, string(want), string(got))
		}
	})
}

// plain reports whether every s is printable ASCII, which both encoders
// write alike.
func plain(ss ...string) bool {
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] >= 0x7f {
				return false
			}
		}
	}
	return true
}

// A time JSON cannot hold (a year past 9999) is an error, as encoding/json
// makes it, and nothing is appended.
func TestEncodeLineRefusesATimeJSONCannotHold(t *testing.T) {
	r := Record{CallID: "c", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	got, err := encodeLine([]byte("kept"), &r)
	require.Error(t, err)
	assert.Equal(t, "kept", string(got))
}

func BenchmarkEncodeLine(b *testing.B) {
	r := Record{CallID: "call_192a81422d11ad6ca1b2c3d4", Attempt: 1, Time: time.Now().UTC(), KeyID: "key_1", Tenant: "acme",
		Target: "up", ModelAsked: "gpt-4o-mini", ModelServed: "gpt-4o-mini", Usage: gateway.Usage{PromptTokens: 41, CompletionTokens: 256},
		Outcome: "ok", Status: 200, Latency: 812 * time.Microsecond, Cost: 160650, CostKnown: true}
	b.Run("encodeLine", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = encodeLine(buf[:0], &r)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = marshalLine(b, &r)
		}
	})
}
