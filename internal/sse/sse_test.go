package sse

import (
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSSEReader(t *testing.T) {
	r := NewReader(strings.NewReader(": comment\n\nevent: x\ndata: a\ndata: b\n\ndata: [DONE]\r\n\r\n"), 0)
	ev, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, "x", ev.Name)
	assert.Equal(t, "a\nb", string(ev.Data))
	ev, err = r.Next()
	require.NoError(t, err)
	assert.True(t, ev.IsDone())
	_, err = r.Next()
	assert.Equal(t, io.EOF, err)

	r = NewReader(strings.NewReader("data: partial"), 0)
	_, err = r.Next()
	assert.Equal(t, io.ErrUnexpectedEOF, err)

	r = NewReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 64)
	_, err = r.Next()
	assert.ErrorIs(t, err, ErrLineTooLarge)
}
