package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

// readFieldsOf is what the gateway reads from a body, as each decoder sees it.
type readFieldsOf struct {
	Model        string
	Stream       bool
	IncludeUsage bool
	MaxTokens    int
}

func (f readFieldsOf) String() string {
	return fmt.Sprintf("model=%q stream=%v include_usage=%v max_tokens=%d", f.Model, f.Stream, f.IncludeUsage, f.MaxTokens)
}

// goStruct decodes b as a Go upstream does: encoding/json into a struct,
// which folds the case of keys and takes the last match.
func goStruct(b []byte) (readFieldsOf, error) {
	var v struct {
		Model         string `json:"model"`
		Stream        bool   `json:"stream"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
		MaxTokens           *int `json:"max_tokens"`
		MaxCompletionTokens *int `json:"max_completion_tokens"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return readFieldsOf{}, err
	}
	f := readFieldsOf{Model: v.Model, Stream: v.Stream}
	if v.StreamOptions != nil {
		f.IncludeUsage = v.StreamOptions.IncludeUsage
	}
	if v.MaxTokens != nil {
		f.MaxTokens = *v.MaxTokens
	}
	if v.MaxCompletionTokens != nil {
		f.MaxTokens = max(f.MaxTokens, *v.MaxCompletionTokens)
	}
	return f, nil
}

// exactKeys decodes b into maps with case-sensitive keys, as Python's json
// and JavaScript's JSON.parse do; firstWins keeps the first of duplicate
// keys instead of the last, as some streaming decoders do.
func exactKeys(b []byte, firstWins bool) (map[string]any, readFieldsOf, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec, firstWins)
	if err != nil {
		return nil, readFieldsOf{}, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, readFieldsOf{}, errors.New("not an object")
	}
	var f readFieldsOf
	f.Model, _ = m["model"].(string)
	f.Stream, _ = m["stream"].(bool)
	if so, ok := m["stream_options"].(map[string]any); ok {
		f.IncludeUsage, _ = so["include_usage"].(bool)
	}
	for _, k := range []string{"max_tokens", "max_completion_tokens"} {
		if n, ok := m[k].(json.Number); ok {
			v, err := n.Int64()
			if err != nil {
				return nil, readFieldsOf{}, err
			}
			f.MaxTokens = max(f.MaxTokens, int(v))
		}
	}
	return m, f, nil
}

func decodeValue(dec *json.Decoder, firstWins bool) (any, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		m := map[string]any{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec, firstWins)
			if err != nil {
				return nil, err
			}
			if _, dup := m[k.(string)]; !dup || !firstWins {
				m[k.(string)] = v
			}
		}
		_, err = dec.Token()
		return m, err
	case json.Delim('['):
		var a []any
		for dec.More() {
			v, err := decodeValue(dec, firstWins)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err = dec.Token()
		return a, err
	}
	return t, nil
}

// Whatever parseCall accepts, every decoder an upstream may use reads the
// same model, stream flag, include_usage and max_tokens: encoding/json into
// a struct (case folded, last wins), exact keys with the last or the first
// duplicate winning. And the body a stream sends upstream asks every one of
// them for usage and differs from the caller's in nothing else.
func FuzzParseCallAgreesWithDecoders(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"a\"b","stream_options":{"include_usage":true}}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":false},"max_completion_tokens":9}`,
		`{"model":"m","stream":true,"stream_options":null}`,
		`{"model":"m","stream":true,"stream_options":{ }}`,
		`{"model":"m","stream":true,"stream_options":{"x":[1,{"include_usage":false}]},"messages":[]}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":null,"y":2}}`,
		// The attack bodies of issue 8: each turned usage off upstream.
		`{"model":"m","stream":true,"stream_options":{"include_usage":true,"include\u005fusage":false}}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true,"Include_Usage":false}}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"stream_options":{}}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"Stream_Options":{}}`,
		`{"model":"m","stream":false,"stream":true}`,
		`{"model":"m","ſtream":true,"max_to\u212aens":99999999}`,
		`{"model":"m","max_tokens":1,"max_tokens":4000}`,
		`{"model":"cheap","mod\u0065l":"dear"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCall(OpChat, b, Limits{})
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) || ge.Status != 400 {
				t.Fatalf("error is not a 400 gateway error: %v", err)
			}
			return
		}
		got := readFieldsOf{Model: c.Model, Stream: c.Stream, IncludeUsage: c.IncludeUsage, MaxTokens: c.MaxTokens}
		agree(t, "caller's body", b, got)
		if !c.Stream {
			return
		}

		o := Outbound{Model: c.Model, Body: b, spans: c.spans}
		u, err := o.withIncludeUsage()
		if err != nil {
			t.Fatalf("withIncludeUsage: %v", err)
		}
		want := got
		want.IncludeUsage = true
		agree(t, "upstream body", u.Body, want)
		again, err := parseCall(OpChat, u.Body, Limits{})
		if err != nil {
			t.Fatalf("the gateway refuses the body it sends upstream: %v\n%s", err, u.Body)
		}
		if again.spans != u.spans {
			t.Fatalf("spans after the edit %+v, parsed %+v", u.spans, again.spans)
		}
		// Nothing else changed: the caller's body with usage asked for
		// decodes to the same document.
		orig, _, _ := exactKeys(b, false)
		edited, _, _ := exactKeys(u.Body, false)
		so, _ := orig["stream_options"].(map[string]any)
		if so == nil {
			so = map[string]any{}
		}
		so["include_usage"] = true
		orig["stream_options"] = so
		if fmt.Sprint(orig) != fmt.Sprint(edited) {
			t.Fatalf("the edit changed more than include_usage:\n%s\n%s", b, u.Body)
		}

		r := u.renamed(`re"named`)
		if p, err := parseCall(OpChat, r.Body, Limits{}); err != nil || p.Model != `re"named` || !p.IncludeUsage || p.spans != r.spans {
			t.Fatalf("renamed: %v, %+v, spans %+v\n%s", err, p, r.spans, r.Body)
		}
	})
}

// agree fails t unless every decoder reads want from b.
func agree(t *testing.T, what string, b []byte, want readFieldsOf) {
	t.Helper()
	gs, err := goStruct(b)
	if err != nil {
		t.Fatalf("%s: accepted, but encoding/json refuses it: %v\n%s", what, err, b)
	}
	if gs != want {
		t.Fatalf("%s: gateway reads %v, encoding/json into a struct %v\n%s", what, want, gs, b)
	}
	for _, first := range []bool{false, true} {
		_, ek, err := exactKeys(b, first)
		if err != nil {
			t.Fatalf("%s: accepted, but a map decoder refuses it: %v\n%s", what, err, b)
		}
		if ek != want {
			t.Fatalf("%s: gateway reads %v, exact keys (first wins: %v) %v\n%s", what, want, first, ek, b)
		}
	}
}
