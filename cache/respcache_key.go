package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"slices"

	"github.com/llmgate/gateway"
)

// answerKey is the digest a response is kept under.
type answerKey [sha256.Size]byte

// ignoredParams do not change the answer: two requests that differ only in
// them share one. Every other top-level member is part of the key.
var ignoredParams = map[string]bool{"user": true, "metadata": true, "store": true}

// requestKey returns the key of a call's request: a SHA-256 over the
// tenant, the operation, the stream flag and the canonical form of body,
// the Outbound the call sends. The canonical form is every top-level member
// but ignoredParams, in name order, each value decoded and re-encoded by
// encoding/json (map keys sorted, strings and whitespace normalised), so
// that byte-identical requests always share a key, and requests that differ
// only in member order, spacing or string escapes do too.
//
// It reports whether the call may be kept: forced (the caller said
// X-Llmgate-Cache: on), an embedding (deterministic), or a temperature of
// 0. A body whose top level is not an object or repeats a member name is
// never kept, since decoders disagree on which value counts.
//
// This is the response cache's one reading of the body: the entry point
// parses what every layer needs, not the temperature nor the canonical
// form, which only this needs.
func requestKey(tenant string, op gateway.Op, stream bool, body []byte, forced bool) (answerKey, bool) {
	members, ok := topLevel(body)
	if !ok {
		return answerKey{}, false
	}
	keep := forced || op == gateway.OpEmbedding
	if t, ok := members["temperature"]; ok && !keep {
		var n json.Number
		if json.Unmarshal(t, &n) == nil {
			f, err := n.Float64()
			keep = err == nil && f == 0
		}
	}
	if !keep {
		return answerKey{}, false
	}
	names := make([]string, 0, len(members))
	for name := range members {
		if !ignoredParams[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)

	h := sha256.New()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte(tenant))
	field([]byte{byte(op), boolByte(stream)})
	for _, name := range names {
		v, ok := canonical(members[name])
		if !ok {
			return answerKey{}, false
		}
		field([]byte(name))
		field(v)
	}
	var k answerKey
	h.Sum(k[:0])
	return k, true
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// topLevel splits a JSON object into its members, refusing a repeated name.
func topLevel(body []byte) (map[string]json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	members := make(map[string]json.RawMessage)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		name, _ := t.(string)
		if _, dup := members[name]; dup {
			return nil, false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		members[name] = v
	}
	return members, true
}

// canonical re-encodes a JSON value with sorted object keys and no
// whitespace; numbers keep their text.
func canonical(raw json.RawMessage) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	b, err := json.Marshal(v)
	return b, err == nil
}
