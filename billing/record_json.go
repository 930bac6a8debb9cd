package billing

import (
	"strconv"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/jsonstr"
)

// encodeLine appends r to dst as one JSON line: the fields, names and
// omissions of Record's json tags, as encoding/json writes them (HTML left
// unescaped), without reflection: a sink writes one line per attempt, and
// encoding/json's reflection was most of its cost. A time JSON cannot
// hold (a year before 0 or after 9999) is an error, as encoding/json makes
// it, and dst comes back as it was.
// FuzzEncodeLineAgreesWithEncodingJSON pins the agreement.
func encodeLine(dst []byte, r *Record) ([]byte, error) {
	n := len(dst)
	b := append(dst, `{"call_id":`...)
	b = jsonstr.Append(b, r.CallID)
	b = appendInt(b, `,"attempt":`, int64(r.Attempt))
	b = append(b, `,"time":"`...)
	b, err := r.Time.AppendText(b) // RFC 3339 with its fraction, as Time.MarshalJSON
	if err != nil {
		return dst[:n], err
	}
	b = append(b, '"')
	b = appendStringOmitEmpty(b, `,"key_id":`, r.KeyID)
	b = appendStringOmitEmpty(b, `,"tenant":`, r.Tenant)
	b = append(b, `,"target":`...)
	b = jsonstr.Append(b, r.Target)
	b = append(b, `,"model_asked":`...)
	b = jsonstr.Append(b, r.ModelAsked)
	b = append(b, `,"model_served":`...)
	b = jsonstr.Append(b, r.ModelServed)
	b = appendUsage(append(b, `,"usage":`...), &r.Usage)
	b = append(b, `,"outcome":`...)
	b = jsonstr.Append(b, r.Outcome)
	b = appendIntOmitZero(b, `,"status":`, int64(r.Status))
	b = appendInt(b, `,"latency_ns":`, int64(r.Latency))
	b = appendIntOmitZero(b, `,"ttft_ns":`, int64(r.TTFT))
	if r.Stream {
		b = append(b, `,"stream":true`...)
	}
	b = appendInt(b, `,"cost_nano_usd":`, r.Cost)
	b = append(b, `,"cost_known":`...)
	b = strconv.AppendBool(b, r.CostKnown)
	return append(b, "}\n"...), nil
}

// appendUsage appends u as gateway.Usage's json tags say.
func appendUsage(b []byte, u *gateway.Usage) []byte {
	b = appendInt(append(b, '{'), `"prompt_tokens":`, int64(u.PromptTokens))
	b = appendInt(b, `,"completion_tokens":`, int64(u.CompletionTokens))
	b = appendIntOmitZero(b, `,"cached_tokens":`, int64(u.CachedTokens))
	b = appendIntOmitZero(b, `,"cache_write_tokens":`, int64(u.CacheWriteTokens))
	b = appendIntOmitZero(b, `,"cache_write_1h_tokens":`, int64(u.CacheWrite1hTokens))
	b = appendIntOmitZero(b, `,"reasoning_tokens":`, int64(u.ReasoningTokens))
	if u.Estimated {
		b = append(b, `,"estimated":true`...)
	}
	return append(b, '}')
}

// appendInt appends the member name (its comma and colon included) and v.
func appendInt(b []byte, name string, v int64) []byte {
	return strconv.AppendInt(append(b, name...), v, 10)
}

// appendIntOmitZero is appendInt, or nothing when v is 0 (omitempty).
func appendIntOmitZero(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	return appendInt(b, name, v)
}

// appendStringOmitEmpty appends the member name and s, or nothing when s
// is empty (omitempty).
func appendStringOmitEmpty(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return jsonstr.Append(append(b, name...), s)
}
