package provider

import (
	"encoding/json"
	"io"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/chatwire"
	"github.com/llmgate/gateway/internal/sse"
)

// geminiStream is the body of a translated stream: it reads Gemini's
// streamGenerateContent events (alt=sse) as the caller reads, and turns each
// into OpenAI chat.completion.chunk events: the first delta of a choice
// carries role "assistant"; text, thought text (reasoning_content) and
// function calls (tool_calls deltas, indexed per choice, each call whole)
// follow in the order Gemini sent them; a finishReason is a chunk of its
// own. Nothing is read ahead: one upstream event is translated at a time.
//
// Gemini ends a stream with no sentinel, so the end is known by its
// finishReason: at EOF after one, the last usageMetadata becomes the
// usage-only chunk (the entry point removes it when the caller did not ask
// for usage) and [DONE] follows; at EOF before one, the stream was cut and
// Read fails with io.ErrUnexpectedEOF, never a [DONE]. An error event ends
// it with an error deriving from gateway.ErrUpstream.
//
// Read and Close may be called concurrently (Close closes the upstream
// body); Reads must not be.
type geminiStream struct {
	src  io.ReadCloser
	r    *sse.Reader
	meta answerMeta

	out   []byte
	off   int
	err   error // sticky, returned once out is drained
	calls int   // function calls so far, which number minted ids
	// per choice index: the role was sent, tool calls sent so far
	started   map[int]bool
	toolN     map[int]int
	finished  bool
	usage     *gmUsage
	id        string // the chunks' id, from the first responseId
	reasoning string // the reasoning text of the delta being encoded
	model     string
}

func newGeminiStream(src io.ReadCloser, meta answerMeta) *geminiStream {
	return &geminiStream{src: src, r: sse.NewReader(src, 0), meta: meta,
		started: map[int]bool{}, toolN: map[int]int{}}
}

func (s *geminiStream) Read(p []byte) (int, error) {
	for s.off >= len(s.out) {
		if s.err != nil {
			return 0, s.err
		}
		s.out, s.off = s.out[:0], 0
		s.next()
	}
	n := copy(p, s.out[s.off:])
	s.off += n
	return n, nil
}

func (s *geminiStream) Close() error { return s.src.Close() }

// next translates the next upstream event, or ends the stream.
func (s *geminiStream) next() {
	ev, err := s.r.Next()
	switch {
	case err == io.EOF && s.finished:
		if u := openAIUsage(s.usage); u != nil {
			s.out = s.chunk(s.out, nil, u)
		}
		s.out = gateway.AppendDone(s.out)
		s.err = io.EOF
		return
	case err == io.EOF:
		s.err = io.ErrUnexpectedEOF // cut: no finishReason came
		return
	case err != nil:
		s.err = err
		return
	}
	s.out, s.err = s.translate(s.out, ev.Data)
}

// translate appends the OpenAI chunks of one Gemini event.
func (s *geminiStream) translate(dst, data []byte) ([]byte, error) {
	var r gmResponse
	if err := json.Unmarshal(data, &r); err != nil {
		return dst, errGeminiAnswer
	}
	if len(r.Error) > 0 && r.Error[0] != 'n' {
		return dst, errGeminiStreamError
	}
	if s.id == "" {
		s.id = s.meta.answerID(r.ResponseID)
	}
	if s.model == "" || r.ModelVersion != "" {
		s.model = s.meta.modelOf(&r)
	}
	if r.UsageMetadata != nil {
		s.usage = r.UsageMetadata // cumulative: the last one is the total
	}
	if len(r.Candidates) == 0 && r.PromptFeedback != nil && r.PromptFeedback.BlockReason != "" {
		fr := blockedFinish(&r)
		s.finished = true
		return s.chunk(dst, []chatwire.ChunkChoice{{Delta: chatwire.Delta{Role: "assistant"}, FinishReason: &fr}}, nil), nil
	}
	for i := range r.Candidates {
		c := &r.Candidates[i]
		var cp candidateParts
		cp.read(c, &s.meta, &s.calls)
		var d chatwire.Delta
		if s.reasoning = cp.reasoning.String(); s.reasoning != "" {
			d.ReasoningContent = &s.reasoning // encoded before the next candidate's: no allocation
		}
		if text := cp.text.String(); text != "" {
			d.Content = &text
		}
		for j := range cp.calls {
			n := s.toolN[c.Index]
			cp.calls[j].Index = &n
			s.toolN[c.Index] = n + 1
		}
		d.ToolCalls, d.Images = cp.calls, cp.images
		if !s.started[c.Index] {
			s.started[c.Index] = true
			d.Role = "assistant"
			if d.Content == nil {
				empty := ""
				d.Content = &empty
			}
		}
		if d.Role != "" || d.Content != nil || d.ReasoningContent != nil || len(d.ToolCalls) > 0 || len(d.Images) > 0 {
			dst = s.chunk(dst, []chatwire.ChunkChoice{{Index: c.Index, Delta: d}}, nil)
		}
		if c.FinishReason != "" {
			fr := finishReason(c.FinishReason, s.toolN[c.Index] > 0)
			s.finished = true
			dst = s.chunk(dst, []chatwire.ChunkChoice{{Index: c.Index, FinishReason: &fr}}, nil)
		}
	}
	return dst, nil
}

// chunk appends one chat.completion.chunk event.
func (s *geminiStream) chunk(dst []byte, choices []chatwire.ChunkChoice, u *chatwire.Usage) []byte {
	if choices == nil {
		choices = []chatwire.ChunkChoice{}
	}
	id := s.id
	if id == "" {
		id = s.meta.answerID("")
	}
	model := s.model
	if model == "" {
		model = s.meta.model
	}
	b, _ := json.Marshal(&chatwire.Chunk{ID: id, Object: "chat.completion.chunk", Created: s.meta.created,
		Model: model, Choices: choices, Usage: u})
	return gateway.AppendEvent(dst, b)
}

// errGeminiStreamError ends a stream in which Gemini reported an error
// after its 200: before the first content the call may still fail over,
// after it the caller gets an error, never a [DONE].
var errGeminiStreamError = gateway.ErrUpstream.WithMessage("provider: gemini: the upstream reported an error inside the stream")
