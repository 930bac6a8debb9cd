package gatewaytest_test

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway/gatewaytest"
)

// embedBody is an embeddings request for n inputs of dims dimensions.
func embedBody(model string, n, dims int) string {
	in := strings.Repeat(`"x",`, n)
	return `{"model":"` + model + `","input":[` + strings.TrimSuffix(in, ",") + `],"dimensions":` + strconv.Itoa(dims) + `}`
}

// What a Sim produces is bounded: a 20 KB embeddings request for 4,096
// inputs of 4,096 dimensions made a 212 MB answer. Past its bounds a request
// gets a short 400 invalid_request in the OpenAI shape, from the Sim itself;
// at them, it is served.
func TestSimBoundsWhatARequestMakes(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{})
	for _, tc := range []struct {
		name, path, body string
		status           int
	}{
		{"4096 inputs of 4096 dimensions", "/v1/embeddings", embedBody("m", 4096, 4096), 400},
		{"too many inputs", "/v1/embeddings", embedBody("m", gatewaytest.MaxSimEmbeddingInputs+1, 1), 400},
		{"too many values", "/v1/embeddings", embedBody("m", 2, gatewaytest.MaxSimEmbeddingValues/2+1), 400},
		{"the most inputs", "/v1/embeddings", embedBody("m", gatewaytest.MaxSimEmbeddingInputs, 8), 200},
		{"the most values", "/v1/embeddings", embedBody("m", gatewaytest.MaxSimEmbeddingValues/4096, 4096), 200},
		{"a model name too long to echo", "/v1/chat/completions",
			`{"model":"` + strings.Repeat("m", gatewaytest.MaxSimModelBytes+1) + `","messages":[]}`, 400},
		{"the longest model name", "/v1/chat/completions",
			`{"model":"` + strings.Repeat("m", gatewaytest.MaxSimModelBytes) + `","stream":true,"messages":[]}`, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := simDo(t, direct(s), http.MethodPost, tc.path, tc.body)
			require.Equal(t, tc.status, resp.StatusCode, "%.300s", b)
			if tc.status == 200 {
				return
			}
			assert.Less(t, len(b), 512, "a short answer")
			var e simError
			require.NoError(t, json.Unmarshal(b, &e), string(b))
			assert.Equal(t, "invalid_request", e.Error.Code)
			assert.Equal(t, "invalid_request_error", e.Error.Type)
			assert.True(t, strings.HasPrefix(e.Error.Message, "gatewaytest: sim: "), e.Error.Message)
		})
	}
}

// An unserved model is quoted in the Sim's 404 only in part.
func TestSimQuotesAnUnservedModelInPart(t *testing.T) {
	s := gatewaytest.MustNewSim("sim", gatewaytest.SimConfig{Models: []string{"m"}})
	resp, b := simDo(t, direct(s), http.MethodPost, "/v1/chat/completions",
		`{"model":"`+strings.Repeat("x", gatewaytest.MaxSimModelBytes)+`","messages":[]}`)
	assert.Equal(t, 404, resp.StatusCode)
	assert.Less(t, len(b), 512, "%s", b)
}

// A configuration whose replies would be unbounded is refused: a
// non-stream reply is built whole.
func TestSimConfigBoundsTheReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  gatewaytest.SimConfig
		err  string
	}{
		{"too many tokens", gatewaytest.SimConfig{CompletionTokens: math.MaxInt}, "over 16777216 bytes"},
		{"words too long", gatewaytest.SimConfig{CompletionTokens: 1000, Reply: strings.Repeat("w", 64<<10)}, "over 16777216 bytes"},
		{"one byte over", gatewaytest.SimConfig{CompletionTokens: gatewaytest.MaxSimReplyBytes/4 + 1, Reply: "abc"}, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
		})
	}
	// 4 bytes a token ("abc" and its space), less the first token's space.
	assert.NoError(t, gatewaytest.SimConfig{CompletionTokens: gatewaytest.MaxSimReplyBytes / 4, Reply: "abc"}.Validate())
	assert.NoError(t, gatewaytest.SimConfig{CompletionTokens: 1 << 20, Reply: "a long stream"}.Validate(), "long streams are fine")
}
