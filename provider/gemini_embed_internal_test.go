package provider

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

func TestGeminiEmbeddingTranslation(t *testing.T) {
	one, err := geminiEmbedding([]byte(`{"model":"e","input":"hello","dimensions":3}`), "gemini-embedding-001")
	require.NoError(t, err)
	assert.False(t, one.batch)
	assert.JSONEq(t, `{"content":{"parts":[{"text":"hello"}]},"outputDimensionality":3}`, string(one.body))

	many, err := geminiEmbedding([]byte(`{"model":"e","input":["a","b"]}`), "gemini-embedding-001")
	require.NoError(t, err)
	assert.True(t, many.batch)
	assert.JSONEq(t, `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"a"}]}},
		{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"b"}]}}]}`, string(many.body))

	out, err := many.openAIEmbeddings([]byte(`{"embeddings":[{"values":[0.25,-1e-3]},{"values":[1,0]}]}`), "e")
	require.NoError(t, err)
	assert.JSONEq(t, `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.25,-1e-3]},
		{"object":"embedding","index":1,"embedding":[1,0]}],"model":"e"}`, string(out))

	b64, err := geminiEmbedding([]byte(`{"model":"e","input":"x","encoding_format":"base64"}`), "m")
	require.NoError(t, err)
	out, err = b64.openAIEmbeddings([]byte(`{"embedding":{"values":[0.5,-2]}}`), "e")
	require.NoError(t, err)
	i := strings.Index(string(out), `"embedding":"`) + len(`"embedding":"`)
	raw, err := base64.StdEncoding.DecodeString(string(out[i : i+strings.IndexByte(string(out[i:]), '"')]))
	require.NoError(t, err)
	require.Len(t, raw, 8)
	assert.Equal(t, float32(0.5), math.Float32frombits(binary.LittleEndian.Uint32(raw)))
	assert.Equal(t, float32(-2), math.Float32frombits(binary.LittleEndian.Uint32(raw[4:])))

	for name, body := range map[string]string{
		"token ids":       `{"input":[1,2,3]}`,
		"token id arrays": `{"input":[[1,2],[3]]}`,
		"empty":           `{"input":[]}`,
		"format":          `{"input":"x","encoding_format":"int8"}`,
		"too many":        `{"input":[` + strings.Repeat(`"x",`, maxGeminiBatch) + `"x"]}`,
	} {
		_, err := geminiEmbedding([]byte(body), "m")
		assert.ErrorIs(t, err, gateway.ErrBadRequest, name)
	}
}
