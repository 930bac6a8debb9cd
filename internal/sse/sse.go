// Package sse reads server-sent events as the OpenAI API uses them: "data:
// <json>" events separated by blank lines, ended by "data: [DONE]".
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Done is the data of the event that ends an OpenAI stream.
var Done = []byte("[DONE]")

// DefaultMaxLine bounds one SSE line read by Reader.
const DefaultMaxLine = 4 << 20

// ErrLineTooLarge is returned by Reader for a line over its limit.
var ErrLineTooLarge = errors.New("gateway: SSE line too large")

// Event is one server-sent event.
type Event struct {
	Name string // the "event:" field; empty for most OpenAI events
	Data []byte // the "data:" lines joined by '\n'; valid until the next call to Next
}

// IsDone reports whether e is the "[DONE]" sentinel that ends an OpenAI stream.
func (e Event) IsDone() bool { return bytes.Equal(e.Data, Done) }

// Reader reads events from a stream. It does no buffering beyond one line:
// Next returns as soon as an event's terminating blank line has arrived. A
// read blocked in Next unblocks when the underlying reader does (an HTTP
// response body does when its request context is cancelled).
//
// A Reader is not safe for concurrent use.
type Reader struct {
	r    *bufio.Reader
	max  int
	data []byte
	name []byte
	line []byte
}

// NewReader returns a reader of r whose lines may be up to maxLine bytes
// (DefaultMaxLine when maxLine <= 0).
func NewReader(r io.Reader, maxLine int) *Reader {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Reader{r: bufio.NewReaderSize(r, 4096), max: maxLine}
}

// Next returns the next event with data. It returns io.EOF at a clean end of
// the stream, io.ErrUnexpectedEOF when the stream ends inside an event, and
// the underlying reader's error otherwise.
func (s *Reader) Next() (Event, error) {
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
func (s *Reader) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		frag, err := s.r.ReadSlice('\n')
		s.line = append(s.line, frag...)
		if len(s.line) > s.max {
			return nil, ErrLineTooLarge
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
