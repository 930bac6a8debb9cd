package gateway

import (
	"encoding/binary"
	"errors"
)

// jsonScanner validates and walks a JSON document held in memory without
// decoding it into Go values. It is what lets the entry point read model,
// stream and max_tokens and estimate prompt tokens with no allocation, and
// reject malformed or too deeply nested input.
type jsonScanner struct {
	b        []byte
	i        int
	depth    int
	maxDepth int
}

var (
	errJSONSyntax = errors.New("invalid JSON")
	errJSONDepth  = errors.New("JSON nested too deeply")
)

// textCount accumulates the text a value holds, for token estimates.
type textCount struct {
	ascii, other int // bytes of string content
	numbers      int // numbers (token ids in arrays)
}

// tokens estimates the tokens of the counted text: about four ASCII bytes or
// three other bytes (most non-Latin scripts) per token, a token per number.
func (t *textCount) tokens() int {
	return (t.ascii+3)/4 + (t.other+2)/3 + t.numbers
}

func (s *jsonScanner) ws() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' { // most calls find no space: one test
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// atEnd reports whether only spaces remain.
func (s *jsonScanner) atEnd() bool {
	s.ws()
	return s.i >= len(s.b)
}

// peek returns the next non-space byte, or 0 at the end (a NUL byte, never
// valid JSON outside strings, also reads as 0 and fails wherever a value is
// due; use atEnd to test for the end).
func (s *jsonScanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// expect consumes c after optional spaces.
func (s *jsonScanner) expect(c byte) error {
	if s.peek() != c {
		return errJSONSyntax
	}
	s.i++
	return nil
}

// str consumes a string starting at s.i (which must hold '"') and returns the
// span of its raw content and whether it holds escapes. When tc is non-nil
// the content is counted.
func (s *jsonScanner) str(tc *textCount) (start, end int, escaped bool, err error) {
	s.i++
	start = s.i
	other := 0
	for s.i < len(s.b) {
		s.i += plainASCII(s.b[s.i:])
		// The word plainASCII stopped at, and a short string's tail, go a
		// byte at a time up to the first byte that needs a look: testing
		// the word again at each byte cost a short string (a key) several
		// word tests per byte.
		for s.i < len(s.b) && plainByte[s.b[s.i]] {
			s.i++
		}
		if s.i >= len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			if tc != nil {
				tc.other += other
				tc.ascii += end - start - other
			}
			return start, end, escaped, nil
		case c == '\\':
			escaped = true
			if s.i+1 >= len(s.b) {
				return 0, 0, false, errJSONSyntax
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return 0, 0, false, errJSONSyntax
				}
				s.i += 6
			default:
				return 0, 0, false, errJSONSyntax
			}
		case c < 0x20:
			return 0, 0, false, errJSONSyntax
		default:
			if c >= 0x80 {
				other++
			}
			s.i++
		}
	}
	return 0, 0, false, errJSONSyntax
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// literal consumes lit ("true", "false", "null").
func (s *jsonScanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return errJSONSyntax
	}
	s.i += len(lit)
	return nil
}

// number consumes a JSON number and reports whether it is an integer (no
// fraction or exponent).
func (s *jsonScanner) number() (integer bool, err error) {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false, errJSONSyntax
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, errJSONSyntax
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false, errJSONSyntax
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return integer, nil
}

// integer consumes a JSON integer that fits in an int. ok is false for a
// number with a fraction or exponent, or one out of range.
func (s *jsonScanner) integer() (v int, ok bool, err error) {
	start := s.i
	isInt, err := s.number()
	if err != nil || !isInt {
		return 0, false, err
	}
	neg := s.b[start] == '-'
	if neg {
		start++
	}
	for _, c := range s.b[start:s.i] {
		if v > (1<<53)/10 {
			return 0, false, nil
		}
		v = v*10 + int(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true, nil
}

// boolOrNull consumes true, false or null (null reads as false).
func (s *jsonScanner) boolOrNull() (bool, error) {
	switch s.peek() {
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return false, s.literal("null")
	}
	return false, errJSONSyntax
}

// value consumes any JSON value, counting its text into tc when non-nil.
func (s *jsonScanner) value(tc *textCount) error {
	switch s.peek() {
	case '{':
		return s.object(func(int, int) error { return s.value(tc) })
	case '[':
		_, err := s.array(func() error { return s.value(tc) })
		return err
	case '"':
		_, _, _, err := s.str(tc)
		return err
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case 0:
		return errJSONSyntax
	}
	if _, err := s.number(); err != nil {
		return err
	}
	if tc != nil {
		tc.numbers++
	}
	return nil
}

// object consumes an object, calling member for each key with the span of the
// raw key; member must consume the value.
func (s *jsonScanner) object(member func(keyStart, keyEnd int) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.depth++; s.depth > s.maxDepth {
		return errJSONDepth
	}
	if s.peek() == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.peek() != '"' {
			return errJSONSyntax
		}
		ks, ke, _, err := s.str(nil)
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := member(ks, ke); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			s.depth--
			return nil
		default:
			return errJSONSyntax
		}
	}
}

// array consumes an array, calling elem for each element, and returns the
// number of elements.
func (s *jsonScanner) array(elem func() error) (int, error) {
	if err := s.expect('['); err != nil {
		return 0, err
	}
	if s.depth++; s.depth > s.maxDepth {
		return 0, errJSONDepth
	}
	if s.peek() == ']' {
		s.i++
		s.depth--
		return 0, nil
	}
	n := 0
	for {
		if err := elem(); err != nil {
			return n, err
		}
		n++
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			s.depth--
			return n, nil
		default:
			return n, errJSONSyntax
		}
	}
}

// key reports whether the raw key at [ks,ke) equals k.
func (s *jsonScanner) key(ks, ke int, k string) bool {
	return string(s.b[ks:ke]) == k
}

// plainASCII returns the length of the prefix of b made of eight-byte words
// holding only printable ASCII other than '"' and '\\': string content that
// needs no look. It tests a word at a time (SWAR), so long prompts are
// scanned several times faster than byte by byte.
func plainASCII(b []byte) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	n := 0
	for len(b)-n >= 8 {
		v := binary.LittleEndian.Uint64(b[n:])
		quote := v ^ ('"' * ones)
		slash := v ^ ('\\' * ones)
		special := v | // a high bit: non-ASCII
			((v - 0x20*ones) &^ v) | // a byte below 0x20
			((quote - ones) &^ quote) | // a byte equal to '"'
			((slash - ones) &^ slash) // a byte equal to '\\'
		if special&highs != 0 {
			return n
		}
		n += 8
	}
	return n
}

// plainByte holds, for each byte, whether it is one plainASCII passes over:
// printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()
