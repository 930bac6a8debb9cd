package gateway

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
)

// zeroReader returns nothing and no error, forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// The check reads no more than it must, decides on the first byte past
// whitespace and a leading byte-order mark, whatever the reads' sizes, and
// does not spin on a body that never progresses.
func TestReadAnswerHead(t *testing.T) {
	for _, tc := range []struct {
		name string
		body io.Reader
		want error // nil: passes
		read string
	}{
		{"object", strings.NewReader(`{"id":"x","object":"chat.completion","created":1}`), nil, `{"id":"x","object":"chat.complet`},
		{"object first", iotest.OneByteReader(strings.NewReader(`{"object":"chat.completion"}`)), nil, `{"object":"c`},
		{"list", iotest.OneByteReader(strings.NewReader(`{"object":"list","data":[]}`)), nil, `{"object":"l`},
		{"object errors", iotest.OneByteReader(strings.NewReader(`{"object":"errors"}`)), nil, `{"object":"errors`},
		{"objects", iotest.OneByteReader(strings.NewReader(`{"objects":[]}`)), nil, `{"objects`},
		{"vLLM's error", strings.NewReader(`{"object":"error","message":"x","type":"BadRequestError","code":400}`), errAnswerErrorObject, `{"object":"error","message":"x",`},
		{"vLLM's error, pretty", iotest.OneByteReader(strings.NewReader("{\n    \"object\": \"error\",\n")), errAnswerErrorObject, "{\n    \"object\": \"error\""},
		{"Anthropic's error", strings.NewReader(`{"type":"error","error":{"type":"overloaded_error","message":"x"}}`), errAnswerErrorObject, `{"type":"error","error":{"type":`},
		{"Anthropic's message", iotest.OneByteReader(strings.NewReader(`{"type":"message","id":"msg_1"}`)), nil, `{"type":"m`},
		{"type errors", iotest.OneByteReader(strings.NewReader(`{"type":"errors"}`)), nil, `{"type":"errors`},
		{"error string", iotest.OneByteReader(strings.NewReader(`{"error":"quota"}`)), errAnswerErrorObject, `{"error":"`},
		{"error number", iotest.OneByteReader(strings.NewReader(`{"error":1}`)), nil, `{"error":1`},
		{"escaped name", iotest.OneByteReader(strings.NewReader(`{"e\u0072ror":{}}`)), nil, `{"e\`},
		{"array", strings.NewReader(`[1]`), nil, `[1]`},
		{"one byte a read", iotest.OneByteReader(strings.NewReader("  \n{}")), nil, "  \n{}"},
		{"mark, then object", iotest.OneByteReader(strings.NewReader("\xef\xbb\xbf{}")), nil, "\xef\xbb\xbf{}"},
		{"error object", strings.NewReader(`{"error":{"message":"quota"}}`), errAnswerErrorObject, `{"error":{"message":"quota"}}`},
		{"error object, pretty", iotest.OneByteReader(strings.NewReader("{\n  \"error\": {\n")), errAnswerErrorObject, "{\n  \"error\": {"},
		{"error null", strings.NewReader(`{"error":null,"id":"resp_1"}`), nil, `{"error":null,"id":"resp_1"}`},
		{"errors, a list", iotest.OneByteReader(strings.NewReader(`{"errors":[]}`)), nil, `{"errors"`},
		{"other first member", iotest.OneByteReader(strings.NewReader(`{"id":"x"}`)), nil, `{"id"`},
		{"error member too late", strings.NewReader("{\n" + strings.Repeat(" ", 24) + "\"error\": {}}"), nil, "{\n" + strings.Repeat(" ", 24) + "\"error"},
		{"a JSON start, then the end", strings.NewReader(`{"err`), nil, `{"err`},
		{"mark's start, then text", strings.NewReader("\xef\xbbx"), errAnswerNotJSON, "\xef\xbbx"},
		{"mark after whitespace", strings.NewReader(" \xef\xbb\xbf{}"), errAnswerNotJSON, " \xef\xbb\xbf{}"},
		{"html", strings.NewReader("<html>"), errAnswerNotJSON, "<html>"},
		{"a JSON string", strings.NewReader(`"ok"`), errAnswerNotJSON, `"ok"`},
		{"empty", strings.NewReader(""), errAnswerEmpty, ""},
		{"a mark alone", strings.NewReader("\xef\xbb\xbf"), errAnswerEmpty, "\xef\xbb\xbf"},
		{"whitespace past the head", strings.NewReader(strings.Repeat(" ", 40) + "<"), nil, strings.Repeat(" ", answerHeadSize)},
		{"broken", iotest.ErrReader(io.ErrUnexpectedEOF), errAnswerBroke, ""},
		{"no progress", zeroReader{}, errAnswerBroke, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h answerHead
			err := readAnswerHead(tc.body, &h)
			if tc.want == nil {
				assert.NoError(t, err)
			} else {
				if assert.Error(t, err) {
					assert.Equal(t, tc.want.Error(), err.Error())
				}
				assert.True(t, errors.Is(err, ErrUpstream), "%v", err)
			}
			assert.Equal(t, tc.read, string(h.b[:h.n]))
			p := make([]byte, 3)
			var replay []byte
			for h.pending() {
				replay = append(replay, p[:h.read(p)]...)
			}
			assert.Equal(t, tc.read, string(replay), "replayed whole, in reads of any size")
		})
	}
}
