package cache

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

func TestRequestKey(t *testing.T) {
	const base = `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"seed":1}`
	k0, ok := requestKey("t", gateway.OpChat, false, []byte(base), false)
	require.True(t, ok)
	same := []string{
		base, // byte-identical requests hash the same (a peer bug hashed a request id)
		`{"seed":1,"tools":[{"function":{"name":"f"},"type":"function"}],"messages":[{"content":"hi","role":"user"}],"temperature":0,"model":"m"}`,
		"{ \"model\" : \"m\",\n \"temperature\":0, \"messages\":[{\"role\":\"user\",\"content\":\"h\\u0069\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],\"seed\":1}",
		`{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"seed":1,"user":"u-42","metadata":{"x":"y"}}`,
	}
	for _, b := range same {
		k, ok := requestKey("t", gateway.OpChat, false, []byte(b), false)
		require.True(t, ok, b)
		assert.Equal(t, k0, k, b)
	}
	differ := []struct {
		tenant string
		op     gateway.Op
		stream bool
		body   string
	}{
		{"u", gateway.OpChat, false, base},
		{"", gateway.OpChat, false, base},
		{"t", gateway.OpCompletion, false, base},
		{"t", gateway.OpChat, true, base},
		{"t", gateway.OpChat, false, `{"model":"m2","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"seed":1}`},
		{"t", gateway.OpChat, false, `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi!"}],"tools":[{"type":"function","function":{"name":"f"}}],"seed":1}`},
		{"t", gateway.OpChat, false, `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"g"}}],"seed":1}`},
		{"t", gateway.OpChat, false, `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"seed":2}`},
		{"t", gateway.OpChat, false, `{"model":"m","temperature":0,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"seed":1,"max_tokens":5}`},
	}
	for _, d := range differ {
		k, ok := requestKey(d.tenant, d.op, d.stream, []byte(d.body), false)
		require.True(t, ok, d.body)
		assert.NotEqual(t, k0, k, "%+v", d)
	}
}

func TestRequestKeyCacheability(t *testing.T) {
	for _, c := range []struct {
		op     gateway.Op
		body   string
		forced bool
		want   bool
	}{
		{gateway.OpChat, `{"model":"m","temperature":0}`, false, true},
		{gateway.OpChat, `{"model":"m","temperature":0.0}`, false, true},
		{gateway.OpChat, `{"model":"m"}`, false, false},
		{gateway.OpChat, `{"model":"m","temperature":0.2}`, false, false},
		{gateway.OpChat, `{"model":"m","temperature":0.2}`, true, true},
		{gateway.OpEmbedding, `{"model":"m","input":"x"}`, false, true},
		{gateway.OpChat, `{"model":"m","temperature":0,"temperature":1}`, false, false},
		{gateway.OpChat, `{"model":"m","temperature":0,"temperature":1}`, true, false},
		{gateway.OpChat, `[1]`, true, false},
	} {
		_, ok := requestKey("", c.op, false, []byte(c.body), c.forced)
		assert.Equal(t, c.want, ok, "%s forced=%v", c.body, c.forced)
	}
}
