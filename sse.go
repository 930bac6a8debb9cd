package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Server-sent events as the OpenAI API uses them: "data: <json>" events
// separated by blank lines, ended by "data: [DONE]".

// DefaultMaxEventBytes bounds one SSE line read by SSEReader.
const DefaultMaxEventBytes = 4 << 20

// ErrEventTooLarge is returned by SSEReader for a line over its limit.
var ErrEventTooLarge = errors.New("gateway: SSE event too large")

// Event is one server-sent event.
type Event struct {
	Name string // the "event:" field; empty for most OpenAI events
	Data []byte // the "data:" lines joined by '\n'; valid until the next call to Next
}

// IsDone reports whether e is the "[DONE]" sentinel that ends an OpenAI stream.
func (e Event) IsDone() bool { return bytes.Equal(e.Data, doneData) }

var doneData = []byte("[DONE]")

// SSEReader reads events from a stream. It does no buffering beyond one line:
// Next returns as soon as an event's terminating blank line has arrived. A
// read blocked in Next unblocks when the underlying reader does (an HTTP
// response body does when its request context is cancelled).
//
// An SSEReader is not safe for concurrent use.
type SSEReader struct {
	r    *bufio.Reader
	max  int
	data []byte
	name []byte
	line []byte
}

// NewSSEReader returns a reader of r whose lines may be up to maxLine bytes
// (DefaultMaxEventBytes when maxLine <= 0).
func NewSSEReader(r io.Reader, maxLine int) *SSEReader {
	if maxLine <= 0 {
		maxLine = DefaultMaxEventBytes
	}
	return &SSEReader{r: bufio.NewReaderSize(r, 4096), max: maxLine}
}

// Next returns the next event with data. It returns io.EOF at a clean end of
// the stream, io.ErrUnexpectedEOF when the stream ends inside an event, and
// the underlying reader's error otherwise.
func (s *SSEReader) Next() (Event, error) {
	s.data, s.name = s.data[:0], s.name[:0]
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && (hasData || len(line) > 0) {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if hasData {
				return Event{Name: string(s.name), Data: s.data}, nil
			}
			s.name = s.name[:0]
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "data":
			if hasData {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			hasData = true
		case "event":
			s.name = append(s.name[:0], value...)
		}
	}
}

// readLine returns the next line without its terminator.
func (s *SSEReader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, err := s.r.ReadSlice('\n')
		s.line = append(s.line, frag...)
		if len(s.line) > s.max {
			return nil, ErrEventTooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && len(s.line) > 0 {
				return s.line, io.EOF
			}
			return nil, err
		}
		line := s.line[:len(s.line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return line, nil
	}
}

// AppendEvent appends data as one SSE event ("data: <data>\n\n") to dst. data
// must not hold a newline (compact JSON never does).
func AppendEvent(dst, data []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}

// AppendDone appends the "data: [DONE]" event that ends an OpenAI stream.
func AppendDone(dst []byte) []byte { return AppendEvent(dst, doneData) }

// AppendErrorEvent appends the terminal event that reports err inside a
// stream whose status line has already been sent. It is the OpenAI shape
// ("data: {"error":{...}}"), which SDKs surface as a stream error; it is never
// followed by [DONE].
func AppendErrorEvent(dst []byte, err error) []byte {
	b := ErrorFor(err).JSON()
	return AppendEvent(dst, bytes.TrimRight(b, "\n"))
}
