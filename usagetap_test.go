package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/llmgate/gateway/internal/sse"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	roleChunk    = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}` + "\n\n"
	helloChunk   = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"}}]}` + "\n\n"
	worldChunk   = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" world"}}]}` + "\n\n"
	stopChunk    = `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	usageChunk   = `data: {"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":4}}}` + "\n\n"
	doneEvent    = "data: [DONE]\n\n"
	fullStream   = roleChunk + helloChunk + worldChunk + stopChunk + usageChunk + doneEvent
	streamNoUse  = roleChunk + helloChunk + worldChunk + stopChunk + doneEvent
	nonStreamOut = `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello world, said \"usage\": {}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":5,"total_tokens":14}}`
)

func tapOver(t *testing.T, body string, stream, includeUsage bool, wrap func(io.Reader) io.Reader) (*Call, *usageTap) {
	t.Helper()
	c := testCall(t, `{"model":"m","messages":[{"role":"user","content":"hello there"}]}`)
	c.Stream, c.IncludeUsage = stream, includeUsage
	var r io.Reader = strings.NewReader(body)
	if wrap != nil {
		r = wrap(r)
	}
	c.tap.init(c, io.NopCloser(r), 200, stream, sse.DefaultMaxLine)
	return c, &c.tap
}

func TestTapStreamStripsUsageChunkTheCallerDidNotAskFor(t *testing.T) {
	for _, oneByte := range []bool{false, true} {
		var wrap func(io.Reader) io.Reader
		if oneByte {
			wrap = iotest.OneByteReader
		}
		c, tap := tapOver(t, fullStream, true, false, wrap)
		out, err := io.ReadAll(tap)
		require.NoError(t, err)
		assert.Equal(t, streamNoUse, string(out), "one byte at a time: %v", oneByte)
		u, ok := c.Usage()
		require.True(t, ok)
		assert.Equal(t, Usage{PromptTokens: 11, CompletionTokens: 2, CachedTokens: 4}, u)
	}
}

func TestTapStreamKeepsUsageChunkWhenAsked(t *testing.T) {
	c, tap := tapOver(t, fullStream, true, true, nil)
	out, err := io.ReadAll(tap)
	require.NoError(t, err)
	assert.Equal(t, fullStream, string(out))
	u, _ := c.Usage()
	assert.Equal(t, 11, u.PromptTokens)
	assert.False(t, u.Estimated)
}

// A final chunk with both content and usage is counted once and reaches the
// caller, since it carries content (RELIABILITY 25).
func TestTapStreamChunkWithChoicesAndUsageIsKeptAndCountedOnce(t *testing.T) {
	both := `data: {"choices":[{"index":0,"delta":{"content":"!"}}],"usage":{"prompt_tokens":3,"completion_tokens":3}}` + "\n\n"
	body := roleChunk + helloChunk + both + doneEvent
	c, tap := tapOver(t, body, true, false, nil)
	out, err := io.ReadAll(tap)
	require.NoError(t, err)
	assert.Equal(t, body, string(out))
	u, _ := c.Usage()
	assert.Equal(t, Usage{PromptTokens: 3, CompletionTokens: 3}, u)
}

func TestTapStreamWithoutUsageIsEstimated(t *testing.T) {
	c, tap := tapOver(t, streamNoUse, true, false, nil)
	_, err := io.ReadAll(tap)
	require.NoError(t, err)
	u, _ := c.Usage()
	assert.True(t, u.Estimated)
	assert.Equal(t, c.PromptTokens, u.PromptTokens)
	assert.Equal(t, 3, u.CompletionTokens, `"Hello world" is 11 bytes, about 3 tokens`)
}

// A caller that leaves after partial output is billed what was delivered
// (RELIABILITY 26), and usage is recorded once, at Close.
func TestTapCloseBeforeEndRecordsDeliveredEstimate(t *testing.T) {
	c, tap := tapOver(t, fullStream, true, false, iotest.OneByteReader)
	buf := make([]byte, len(roleChunk)+len(helloChunk))
	_, err := io.ReadFull(tap, buf)
	require.NoError(t, err)
	require.NoError(t, tap.Close())
	u, ok := c.Usage()
	require.True(t, ok)
	assert.True(t, u.Estimated)
	assert.Equal(t, 2, u.CompletionTokens, `"Hello" delivered`)

	c.setUsage(Usage{}) // a later read must not record again
	_, _ = tap.Read(buf)
	u, _ = c.Usage()
	assert.Equal(t, Usage{}, u)
}

func TestTapStreamPassesUpstreamErrorAfterDeliveredEvents(t *testing.T) {
	cut := errors.New("connection reset")
	c, tap := tapOver(t, roleChunk+helloChunk, true, false, func(r io.Reader) io.Reader {
		return io.MultiReader(r, iotest.ErrReader(cut))
	})
	out, err := io.ReadAll(tap)
	assert.ErrorIs(t, err, cut)
	assert.Equal(t, roleChunk+helloChunk, string(out), "events read before the error are delivered")
	u, ok := c.Usage()
	require.True(t, ok)
	assert.True(t, u.Estimated)
}

func TestTapStreamForwardsEachEventAsItArrives(t *testing.T) {
	pr, pw := io.Pipe()
	c := testCall(t, `{"model":"m","stream":true}`)
	c.tap.init(c, pr, 200, true, sse.DefaultMaxLine)
	go func() {
		_, _ = pw.Write([]byte(helloChunk))
		// The second event is written only after the first was read.
	}()
	buf := make([]byte, 4096)
	n, err := c.tap.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, helloChunk, string(buf[:n]))
	go func() { _, _ = pw.Write([]byte(worldChunk)); pw.Close() }()
	n, err = c.tap.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, worldChunk, string(buf[:n]))
}

func TestTapConcurrentCloseAndRead(t *testing.T) {
	pr, pw := io.Pipe()
	c := testCall(t, `{"model":"m","stream":true}`)
	c.tap.init(c, pr, 200, true, sse.DefaultMaxLine)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(io.Discard, &c.tap)
	}()
	_, _ = pw.Write([]byte(helloChunk))
	time.Sleep(time.Millisecond)
	require.NoError(t, c.tap.Close())
	pw.CloseWithError(io.ErrClosedPipe)
	wg.Wait()
	_, ok := c.Usage()
	assert.True(t, ok)
}

func TestTapNonStreamFindsUsage(t *testing.T) {
	for _, oneByte := range []bool{false, true} {
		var wrap func(io.Reader) io.Reader
		if oneByte {
			wrap = iotest.OneByteReader
		}
		c, tap := tapOver(t, nonStreamOut, false, false, wrap)
		out, err := io.ReadAll(tap)
		require.NoError(t, err)
		assert.Equal(t, nonStreamOut, string(out))
		u, _ := c.Usage()
		assert.Equal(t, Usage{PromptTokens: 9, CompletionTokens: 5}, u, `a "usage" inside content is not the usage`)
	}
}

func TestTapNonStreamUsageFirstAndMissing(t *testing.T) {
	c, tap := tapOver(t, `{"usage":{"prompt_tokens":1,"completion_tokens":2},"choices":[]}`, false, false, nil)
	_, _ = io.ReadAll(tap)
	u, _ := c.Usage()
	assert.Equal(t, Usage{PromptTokens: 1, CompletionTokens: 2}, u)

	c, tap = tapOver(t, `{"choices":[{"message":{"content":"twelve chars"}}]}`, false, false, nil)
	_, _ = io.ReadAll(tap)
	u, _ = c.Usage()
	assert.Equal(t, Usage{PromptTokens: c.PromptTokens, CompletionTokens: 3, Estimated: true}, u)
}

func TestAppendEvents(t *testing.T) {
	b := AppendEvent(nil, []byte(`{"a":1}`))
	b = AppendDone(b)
	assert.Equal(t, "data: {\"a\":1}\n\ndata: [DONE]\n\n", string(b))
	e := appendErrorEvent(nil, ErrUpstream)
	assert.Equal(t, `data: {"error":{"message":"gateway: upstream failed","type":"api_error","param":null,"code":"upstream_error"}}`+"\n\n", string(e))
}

func TestTapNonStreamPrettyPrintedUsageWithDetails(t *testing.T) {
	body := `{
  "choices": [{"message": {"content": "hi", "usage": {"prompt_tokens": 999}}}],
  "usage": {
    "prompt_tokens": 120,
    "completion_tokens": 30,
    "total_tokens": 150,
    "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 12, "audio_tokens": 0,
      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
  }
}`
	c, tap := tapOver(t, body, false, false, iotest.HalfReader)
	_, err := io.ReadAll(tap)
	require.NoError(t, err)
	u, _ := c.Usage()
	assert.Equal(t, Usage{PromptTokens: 120, CompletionTokens: 30, CachedTokens: 100, ReasoningTokens: 12}, u, "only the top-level usage counts")
}

// Cache writes and reasoning reach the Call's usage under every name the
// gateway reads (usageSlot), streamed or not, however the body is split.
func TestTapReadsCacheWriteAndReasoningNames(t *testing.T) {
	want := Usage{PromptTokens: 50, CompletionTokens: 9, CachedTokens: 20, CacheWriteTokens: 25, CacheWrite1hTokens: 5, ReasoningTokens: 4}
	for name, usage := range map[string]string{
		"details":   `{"prompt_tokens":50,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":20,"cache_write_tokens":25,"cache_write_1h_tokens":5},"completion_tokens_details":{"reasoning_tokens":4}}`,
		"anthropic": `{"prompt_tokens":50,"completion_tokens":9,"cache_read_input_tokens":20,"cache_creation_input_tokens":25,"prompt_tokens_details":{"cache_write_1h_tokens":5},"output_tokens_details":{"reasoning_tokens":4}}`,
	} {
		t.Run(name+"/body", func(t *testing.T) {
			c, tap := tapOver(t, `{"choices":[{"message":{"content":"hi"}}],"usage":`+usage+`}`, false, false, iotest.OneByteReader)
			_, err := io.ReadAll(tap)
			require.NoError(t, err)
			u, _ := c.Usage()
			assert.Equal(t, want, u)
		})
		t.Run(name+"/stream", func(t *testing.T) {
			stream := "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n" +
				"data: {\"choices\":[],\"usage\":" + usage + "}\n\ndata: [DONE]\n\n"
			c, tap := tapOver(t, stream, true, true, iotest.HalfReader)
			_, err := io.ReadAll(tap)
			require.NoError(t, err)
			u, _ := c.Usage()
			assert.Equal(t, want, u)
		})
	}
}

// The streaming lexer reads the same usage as the scanner, however the body
// is split.
func FuzzBodyLexerAgreesWithScanner(f *testing.F) {
	f.Add([]byte(nonStreamOut), 7)
	f.Add([]byte(`{"usage":{"input_tokens":3,"output_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}}`), 1)
	f.Add([]byte(`{"usage":null,"choices":[{"text":"x"}]}`), 3)
	f.Fuzz(func(t *testing.T, b []byte, split int) {
		want, ok := inspectChunk(b)
		if !ok || !json.Valid(b) {
			return
		}
		var l bodyLexer
		if split <= 0 || split > len(b) {
			split = len(b)
		}
		for i := 0; i < len(b); i += split {
			l.feed(b[i:min(i+split, len(b))])
		}
		l.finish()
		if l.sawUsage != want.hasUsage || (want.hasUsage && l.usage != want.usage) {
			t.Fatalf("lexer %v %+v, scanner %v %+v", l.sawUsage, l.usage, want.hasUsage, want.usage)
		}
	})
}

// Regression: in server mode a client could read [DONE] before the handler
// read EOF and recorded usage. Usage is recorded before [DONE] is delivered.
func TestTapRecordsUsageBeforeDeliveringDone(t *testing.T) {
	c, tap := tapOver(t, fullStream+"data: trailing garbage the stream never ends\n\n", true, false, nil)
	buf := make([]byte, 1<<16)
	var got string
	for !strings.Contains(got, "[DONE]") {
		n, err := tap.Read(buf)
		require.NoError(t, err)
		got += string(buf[:n])
	}
	u, ok := c.Usage()
	require.True(t, ok, "usage recorded by the time [DONE] is read")
	assert.Equal(t, 11, u.PromptTokens)
}

// testCall is a Call for body as the entry point builds it.
func testCall(t *testing.T, body string) *Call {
	t.Helper()
	e := newEntry(RoundTripperFunc(func(*http.Request) (*http.Response, error) { return nil, nil }), nil)
	c, _, err := e.begin(context.Background(), OpChat, []byte(body), time.Now())
	require.NoError(t, err)
	return c
}

// An event whose data cannot hold usage goes to the caller uninspected and
// is counted after; mayCarryUsage is false only when no "usage" key is
// followed by an object.
func TestMayCarryUsage(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{`{"choices":[],"usage":{"prompt_tokens":1}}`, true},
		{`{"usage" : {"prompt_tokens":1}}`, true},
		{"{\"usage\":\n{}}", true},
		{`{"choices":[{"delta":{"content":"x"}}],"usage":null}`, false},
		{`{"usage":null,"x":{"usage":{"a":1}}}`, true}, // a nested one is inspected too
		{`{"choices":[{"delta":{"content":"say \"usage\":{ here"}}]}`, false},
		{`{"choices":[{"delta":{"content":"usage"}}]}`, false},
		{`{"a":["usage"],"b":1}`, false},
		{`{"usage":`, false},
		{`{"choices":[]}`, false},
	} {
		assert.Equal(t, tc.want, mayCarryUsage([]byte(tc.data)), tc.data)
	}
}

// A stream that reports no usage is estimated from all its content, though
// the events without usage are counted only after the caller has them.
func TestTapEstimatesFromEventsCountedAfterDelivery(t *testing.T) {
	body := "data: {\"choices\":[{\"delta\":{\"content\":\"one two\"}}],\"usage\":null}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\" three\"}}]}\n\n" +
		"data: [DONE]\n\n"
	c, tap := tapOver(t, body, true, true, nil)
	got, err := io.ReadAll(iotest.OneByteReader(tap))
	require.NoError(t, err)
	assert.Equal(t, body, string(got))
	u, ok := c.Usage()
	require.True(t, ok)
	assert.True(t, u.Estimated)
	want := textCount{ascii: len("one two three")}
	assert.Equal(t, want.tokens(), u.CompletionTokens)
}

// chunkedReader returns its bytes n at a time.
type chunkedReader struct {
	b []byte
	n int
}

func (r *chunkedReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b[:min(len(r.b), r.n)])
	r.b = r.b[n:]
	return n, nil
}

// However the upstream splits a stream (events split across reads, several
// in one, more than the tap reads at once), the caller gets the
// same bytes, the usage-only chunk it did not ask for removed, and the
// same usage.
func TestTapStreamSameWhateverTheSplit(t *testing.T) {
	content := func(s string) string {
		return `data: {"choices":[{"delta":{"content":"` + s + `"}}],"usage":null}` + "\n\n"
	}
	var in, want strings.Builder
	for i := range 40 {
		ev := content(strings.Repeat("word ", i%7+1))
		in.WriteString(ev)
		want.WriteString(ev)
	}
	in.WriteString("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":8}}\n\n")
	in.WriteString("data: [DONE]\n\n")
	want.WriteString("data: [DONE]\n\n")
	for _, n := range []int{1, 7, 100, 333, 1024, 1025, 5000, 1 << 20} {
		c, tap := tapOver(t, "", true, false, nil)
		tap.body = io.NopCloser(&chunkedReader{b: []byte(in.String()), n: n})
		got, err := io.ReadAll(tap)
		require.NoError(t, err, n)
		assert.Equal(t, want.String(), string(got), "split %d", n)
		u, ok := c.Usage()
		require.True(t, ok)
		assert.Equal(t, Usage{PromptTokens: 9, CompletionTokens: 8}, u, "split %d", n)
	}
}
