package gatewaytest

import (
	"strconv"

	"github.com/llmgate/gateway/internal/jsonstr"
)

// The Sim's answers to the Responses API (POST /v1/responses), in OpenAI's
// shapes: a response object with one output message, or, streaming, its
// event grammar (response.created, output_item.added, content_part.added,
// one response.output_text.delta per token, the .done events, and
// response.completed carrying the usage), each event named by an "event:"
// line as OpenAI sends them. A reply cut by max_output_tokens is
// "incomplete" (response.incomplete when streaming).

// appendResponse appends a whole response object.
func (s *Sim) appendResponse(b []byte, sc *simCall) []byte {
	n := s.ReplyTokens(sc.maxTokens)
	id := nextID()
	b = s.appendResponseHead(b, id, jsonstr.Append(nil, sc.model), n < s.nTokens, true)
	b = append(b, `"output":[`...)
	b = s.appendResponseMessage(b, id, n, true)
	b = append(b, `],`...)
	b = appendResponsesUsage(b, sc.prompt, n)
	return append(b, '}')
}

// appendResponseHead appends a response object's fields up to its output.
func (s *Sim) appendResponseHead(b []byte, id uint64, model []byte, cut, ended bool) []byte {
	b = append(b, `{"id":"resp_sim`...)
	b = strconv.AppendUint(b, id, 10)
	b = append(b, `","object":"response","created_at":`...)
	b = strconv.AppendInt(b, s.clock.Now().Unix(), 10)
	switch {
	case !ended:
		b = append(b, `,"status":"in_progress","incomplete_details":null`...)
	case cut:
		b = append(b, `,"status":"incomplete","incomplete_details":{"reason":"max_output_tokens"}`...)
	default:
		b = append(b, `,"status":"completed","incomplete_details":null`...)
	}
	b = append(b, `,"error":null,"model":`...)
	b = append(b, model...)
	return append(b, ',')
}

// appendResponseMessage appends the output message holding the first n
// tokens of the reply; an unfinished one is empty.
func (s *Sim) appendResponseMessage(b []byte, id uint64, n int, ended bool) []byte {
	b = append(b, `{"type":"message","id":"msg_sim`...)
	b = strconv.AppendUint(b, id, 10)
	if !ended {
		return append(b, `","status":"in_progress","role":"assistant","content":[]}`...)
	}
	b = append(b, `","status":"completed","role":"assistant","content":[`...)
	b = s.appendOutputText(b, n)
	return append(b, `]}`...)
}

// appendOutputText appends an output_text part of the first n tokens.
func (s *Sim) appendOutputText(b []byte, n int) []byte {
	b = append(b, `{"type":"output_text","annotations":[],"text":"`...)
	b = s.appendTokens(b, n)
	return append(b, `"}`...)
}

func (s *Sim) appendTokens(b []byte, n int) []byte {
	for i := range n {
		b = append(b, s.token(i)...)
	}
	return b
}

func appendResponsesUsage(b []byte, prompt, completion int) []byte {
	b = append(b, `"usage":{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"input_tokens_details":{"cached_tokens":0},"output_tokens":`...)
	b = strconv.AppendInt(b, int64(completion), 10)
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+completion), 10)
	return append(b, '}')
}

// appendEventHead appends an event's name line and the start of its data,
// up to the comma after its sequence number.
func (b *streamBody) appendEventHead(dst []byte, typ string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":\""...)
	dst = append(dst, typ...)
	dst = append(dst, `","sequence_number":`...)
	dst = strconv.AppendInt(dst, int64(b.seq), 10)
	b.seq++
	return append(dst, ',')
}

// appendItemRef appends the fields that place a text event in the output.
func (b *streamBody) appendItemRef(dst []byte) []byte {
	dst = append(dst, `"item_id":"msg_sim`...)
	dst = strconv.AppendUint(dst, b.respID, 10)
	return append(dst, `","output_index":0,"content_index":0,`...)
}

// appendResponsesBegin appends the events before the first token.
func (b *streamBody) appendResponsesBegin(dst []byte) []byte {
	s := b.sim
	dst = b.appendEventHead(dst, "response.created")
	dst = append(dst, `"response":`...)
	dst = s.appendResponseHead(dst, b.respID, b.prefix, false, false)
	dst = append(dst, `"output":[],"usage":null}}`+"\n\n"...)
	dst = b.appendEventHead(dst, "response.output_item.added")
	dst = append(dst, `"output_index":0,"item":`...)
	dst = s.appendResponseMessage(dst, b.respID, 0, false)
	dst = append(dst, "}\n\n"...)
	dst = b.appendEventHead(dst, "response.content_part.added")
	dst = b.appendItemRef(dst)
	return append(dst, `"part":{"type":"output_text","annotations":[],"text":""}}`+"\n\n"...)
}

// appendResponsesDelta appends the event of token i.
func (b *streamBody) appendResponsesDelta(dst []byte, i int) []byte {
	dst = b.appendEventHead(dst, "response.output_text.delta")
	dst = b.appendItemRef(dst)
	dst = append(dst, `"delta":"`...)
	dst = append(dst, b.sim.token(i)...)
	return append(dst, "\"}\n\n"...)
}

// appendResponsesFinish appends the .done events of the text, its part and
// its item.
func (b *streamBody) appendResponsesFinish(dst []byte) []byte {
	s := b.sim
	dst = b.appendEventHead(dst, "response.output_text.done")
	dst = b.appendItemRef(dst)
	dst = append(dst, `"text":"`...)
	dst = s.appendTokens(dst, b.sent)
	dst = append(dst, "\"}\n\n"...)
	dst = b.appendEventHead(dst, "response.content_part.done")
	dst = b.appendItemRef(dst)
	dst = append(dst, `"part":`...)
	dst = s.appendOutputText(dst, b.sent)
	dst = append(dst, "}\n\n"...)
	dst = b.appendEventHead(dst, "response.output_item.done")
	dst = append(dst, `"output_index":0,"item":`...)
	dst = s.appendResponseMessage(dst, b.respID, b.sent, true)
	return append(dst, "}\n\n"...)
}

// appendResponsesCompleted appends the last event: the whole response with
// its usage.
func (b *streamBody) appendResponsesCompleted(dst []byte) []byte {
	s := b.sim
	cut := b.sent < s.nTokens
	typ := "response.completed"
	if cut {
		typ = "response.incomplete"
	}
	dst = b.appendEventHead(dst, typ)
	dst = append(dst, `"response":`...)
	dst = s.appendResponseHead(dst, b.respID, b.prefix, cut, true)
	dst = append(dst, `"output":[`...)
	dst = s.appendResponseMessage(dst, b.respID, b.sent, true)
	dst = append(dst, `],`...)
	dst = appendResponsesUsage(dst, b.prompt, b.sent)
	return append(dst, "}}\n\n"...)
}
