package provider

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

func TestReadCompare(t *testing.T) {
	want := []byte(strings.Repeat("abcdefgh", 4200)) // 33.6 KB: more than one pooled read
	changedLate := bytes.Clone(want)
	changedLate[len(changedLate)-1] = 'X'
	changedEarly := bytes.Clone(want)
	changedEarly[0] = 'X'
	longer := append(bytes.Clone(want), "ijk"...)
	wrappers := map[string]func(io.Reader) io.Reader{
		"plain":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
		"one+EOF":  func(r io.Reader) io.Reader { return iotest.DataErrReader(iotest.OneByteReader(r)) },
		"half+EOF": func(r io.Reader) io.Reader { return iotest.HalfReader(iotest.DataErrReader(r)) },
	}
	for _, tc := range []struct {
		name string
		got  []byte
	}{
		{"same", want},
		{"changed late", changedLate},
		{"changed early", changedEarly},
		{"shorter", want[:len(want)-5]},
		{"longer", longer},
		{"empty", nil},
	} {
		for wname, wrap := range wrappers {
			for _, size := range []int64{-1, int64(len(tc.got))} {
				b, same, err := readCompare(wrap(bytes.NewReader(tc.got)), size, want, 1<<20)
				require.NoError(t, err, "%s/%s/%d", tc.name, wname, size)
				if tc.name == "same" {
					assert.True(t, same, "%s/%d", wname, size)
					assert.Nil(t, b)
					continue
				}
				assert.False(t, same, "%s/%s/%d", tc.name, wname, size)
				assert.True(t, bytes.Equal(tc.got, b), "%s/%s/%d: got %d bytes", tc.name, wname, size, len(b))
			}
		}
	}
}

func TestReadCompareLimitAndErrors(t *testing.T) {
	want := []byte(strings.Repeat("a", 100))
	_, _, err := readCompare(bytes.NewReader(append(bytes.Clone(want), 'b')), -1, want, 100)
	require.ErrorIs(t, err, gateway.ErrBodyTooLarge)
	_, _, err = readCompare(bytes.NewReader([]byte(strings.Repeat("b", 200))), -1, want, 100)
	require.ErrorIs(t, err, gateway.ErrBodyTooLarge)
	_, _, err = readCompare(bytes.NewReader([]byte(strings.Repeat("b", 200))), 200, want, 100)
	require.ErrorIs(t, err, gateway.ErrBodyTooLarge)

	boom := errors.New("boom")
	_, _, err = readCompare(io.MultiReader(bytes.NewReader(want[:10]), iotest.ErrReader(boom)), -1, want, 1000)
	require.ErrorIs(t, err, boom)
	_, _, err = readCompare(io.MultiReader(strings.NewReader("zz"), iotest.ErrReader(boom)), -1, want, 1000)
	require.ErrorIs(t, err, boom)
}

func TestScrub(t *testing.T) {
	p := &OpenAI{secrets: []string{"sk-secret-123456", "org-secret-abcdef"}}
	for _, tc := range []struct{ in, want string }{
		{"dial tcp 127.0.0.1:1: connect: connection refused", "dial tcp 127.0.0.1:1: connect: connection refused"},
		{`Post "https://h/v1/chat?key=abc&b=c": EOF`, `Post "https://h/v1/chat?[REDACTED]": EOF`},
		{"https://h/v1?key=abc", "https://h/v1?[REDACTED]"},
		{"bad key sk-secret-123456 for org-secret-abcdef", "bad key [REDACTED] for [REDACTED]"},
		{"is this ok? yes", "is this ok? yes"},
		{"a?b c?d", "a?[REDACTED] c?[REDACTED]"},
		{"trailing?", "trailing?"},
	} {
		assert.Equal(t, tc.want, p.scrub(tc.in), tc.in)
	}
}
