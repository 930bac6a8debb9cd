package gateway

import (
	"bytes"

	"github.com/llmgate/gateway/internal/sse"
)

// Server-sent events as the OpenAI API uses them: "data: <json>" events
// separated by blank lines, ended by "data: [DONE]".

// AppendEvent appends data as one SSE event ("data: <data>\n\n") to dst. data
// must not hold a newline (compact JSON never does).
func AppendEvent(dst, data []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

// AppendDone appends the "data: [DONE]" event that ends an OpenAI stream.
func AppendDone(dst []byte) []byte { return AppendEvent(dst, sse.Done) }

var doneData = sse.Done

// appendErrorEvent appends the terminal event that reports err inside a
// stream whose status line has already been sent. It is the OpenAI shape
// ("data: {"error":{...}}"), which SDKs surface as a stream error; it is never
// followed by [DONE].
func appendErrorEvent(dst []byte, err error) []byte {
	b := ErrorFor(err).json()
	return AppendEvent(dst, bytes.TrimRight(b, "\n"))
}
