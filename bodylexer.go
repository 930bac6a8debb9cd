package gateway

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// bodyLexer follows a JSON document as it streams past, a byte at a time,
// in constant memory: it reads the numbers of the top-level "usage" object
// and counts the text of generated content, so a non-streaming response is
// read for usage without being buffered.
type bodyLexer struct {
	inStr, esc   bool
	strEnded     bool // a string just ended; a ':' next makes it a key
	afterColon   bool // at a value position
	countStr     bool // the current string is generated content
	str          [32]byte
	strN, strLen int
	strOther     int
	key          [32]byte
	keyN         int
	depth        int  // nesting of the document
	usageDepth   int  // depth of the usage object being read; 0 outside it
	details      byte // inside usage.prompt_tokens_details ('p') or completion_tokens_details ('c')
	cur          Usage
	num          *int // the usage field a number being read goes to
	numVal       int
	numOK        bool
	text         textCount
	usage        Usage
	sawUsage     bool
}

func (l *bodyLexer) feed(p []byte) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if l.inStr {
			if !l.esc && c != '"' && c != '\\' {
				// Skip the plain run of the string in one scan.
				j := indexQuoteOrBackslash(p[i:])
				if j < 0 {
					j = len(p) - i
				}
				l.plain(p[i : i+j])
				i += j - 1
				continue
			}
			switch {
			case l.esc:
				l.esc = false
			case c == '\\':
				l.esc = true
			case c == '"':
				l.inStr = false
				l.strEnded = true
				if l.countStr {
					l.text.other += l.strOther
					l.text.ascii += l.strLen - l.strOther
				}
				l.afterColon = false
				continue
			}
			l.plain(p[i : i+1])
			continue
		}
		if l.num != nil {
			if '0' <= c && c <= '9' {
				if l.numVal < 1<<40 {
					l.numVal = l.numVal*10 + int(c-'0')
				}
				continue
			}
			if c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+' {
				l.numOK = false
				continue
			}
			if l.numOK {
				*l.num = l.numVal
			}
			l.num = nil
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '"':
			l.inStr, l.strN, l.strLen, l.strOther = true, 0, 0, 0
			l.countStr = l.afterColon && l.usageDepth == 0 && isContentKey(l.key[:l.keyN])
		case ':':
			if l.strEnded {
				l.keyN = copy(l.key[:], l.str[:min(l.strN, len(l.str))])
				if l.strLen > len(l.key) {
					l.keyN = 0 // a long key is none we look for
				}
			}
			l.afterColon = true
		case '{', '[':
			l.depth++
			switch {
			case l.usageDepth > 0:
				l.details = 0
				if l.usageDepth == 1 && c == '{' && l.afterColon {
					l.details = usageDetails(l.key[:l.keyN])
				}
				l.usageDepth++
			case c == '{' && l.afterColon && l.depth == 2 && string(l.key[:l.keyN]) == "usage":
				l.usageDepth, l.cur = 1, Usage{}
			}
			l.afterColon = false
		case '}', ']':
			l.depth--
			if l.usageDepth > 0 {
				if l.usageDepth--; l.usageDepth == 1 {
					l.details = 0
				}
				if l.usageDepth == 0 {
					l.usage, l.sawUsage = l.cur, true
				}
			}
			l.afterColon = false
		case ',':
			l.afterColon = false
		default:
			if l.usageDepth > 0 && l.afterColon && '0' <= c && c <= '9' {
				if f := l.usageField(); f != nil {
					l.num, l.numVal, l.numOK = f, int(c-'0'), true
				}
			}
			l.afterColon = false
		}
		l.strEnded = false
	}
}

// finish ends a number the document ended on.
func (l *bodyLexer) finish() {
	if l.num != nil && l.numOK {
		*l.num = l.numVal
	}
	l.num = nil
}

// usageField is the field of the usage being read that the current key
// names, or nil. usageSlot (chunkscan.go) is the one list of names.
func (l *bodyLexer) usageField() *int {
	k := l.key[:l.keyN]
	switch {
	case l.usageDepth == 1:
		return usageSlot(&l.cur, 0, k)
	case l.usageDepth == 2 && l.details != 0:
		return usageSlot(&l.cur, l.details, k)
	}
	return nil
}

// plain accounts for a run of string bytes holding no quote or backslash.
func (l *bodyLexer) plain(run []byte) {
	if len(run) == 0 {
		return
	}
	if l.strN < len(l.str) {
		l.strN += copy(l.str[l.strN:], run)
	}
	l.strLen += len(run)
	if l.countStr {
		l.strOther += countNonASCII(run)
	}
}

// countNonASCII returns how many bytes of b are 0x80 or more, a word at a
// time, and 32 bytes of ASCII at a time: generated content is most of a
// body's bytes.
func countNonASCII(b []byte) int {
	const high = 0x8080808080808080
	le := binary.LittleEndian
	n := 0
	for len(b) >= 32 { // mostly ASCII: one test for 32 bytes
		w0, w1, w2, w3 := le.Uint64(b), le.Uint64(b[8:]), le.Uint64(b[16:]), le.Uint64(b[24:])
		if (w0|w1|w2|w3)&high != 0 {
			n += bits.OnesCount64(w0&high) + bits.OnesCount64(w1&high) + bits.OnesCount64(w2&high) + bits.OnesCount64(w3&high)
		}
		b = b[32:]
	}
	for len(b) >= 8 {
		n += bits.OnesCount64(binary.LittleEndian.Uint64(b) & high)
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			n++
		}
	}
	return n
}

// indexQuoteOrBackslash returns the index of the first '"' or '\\' in b, or
// -1. The backslash is looked for only before the quote: searching all of b
// for one made every string of a document cost a scan to its end.
func indexQuoteOrBackslash(b []byte) int {
	q := bytes.IndexByte(b, '"')
	end := q
	if q < 0 {
		end = len(b)
	}
	if bs := bytes.IndexByte(b[:end], '\\'); bs >= 0 {
		return bs
	}
	return q
}
