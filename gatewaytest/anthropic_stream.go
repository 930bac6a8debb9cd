package gatewaytest

import (
	"encoding/json"
	"net/http"
)

// stream writes rep in Anthropic's SSE grammar, flushing every event, with
// cfg's stream faults: an error event or a cut connection after ErrorAfter
// or CutAfter content deltas.
func (a *AnthropicServer) stream(w http.ResponseWriter, cfg *AnthropicConfig, rep *fakeReply) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(name string, data any) {
		b, _ := json.Marshal(data)
		_, _ = w.Write([]byte("event: " + name + "\ndata: "))
		_, _ = w.Write(b)
		_, _ = w.Write([]byte("\n\n"))
		_ = rc.Flush()
	}
	deltas := 0
	// delta sends one content delta, applying the faults; it reports
	// whether the stream goes on.
	delta := func(index int, d map[string]string) bool {
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index, "delta": d})
		deltas++
		f := cfg.Faults
		switch {
		case f.ErrorAfter > 0 && deltas >= f.ErrorAfter:
			send("error", map[string]any{"type": "error", "error": map[string]string{"type": "overloaded_error", "message": "Overloaded"}})
			return false
		case f.CutAfter > 0 && deltas >= f.CutAfter:
			panic(http.ErrAbortHandler) // the connection is cut: no message_stop
		}
		return true
	}
	send("message_start", map[string]any{"type": "message_start", "message": map[string]any{
		"id": "msg_fake1", "type": "message", "role": "assistant", "model": rep.model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": rep.usageJSON(false)}})
	send("ping", map[string]string{"type": "ping"})
	if cfg.Faults.ErrorFirst {
		send("error", map[string]any{"type": "error", "error": map[string]string{"type": "overloaded_error", "message": "Overloaded"}})
		return
	}
	index := 0
	if rep.thinking != "" {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]string{"type": "thinking", "thinking": "", "signature": ""}})
		if !delta(index, map[string]string{"type": "thinking_delta", "thinking": rep.thinking}) {
			return
		}
		send("content_block_delta", map[string]any{"type": "content_block_delta", "index": index,
			"delta": map[string]string{"type": "signature_delta", "signature": signature(rep.thinking)}})
		send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
		index++
	}
	if rep.tool != nil {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]any{"type": "tool_use", "id": "toolu_fake1", "name": rep.tool.Name, "input": map[string]any{}}})
		in := rep.toolInput()
		for _, frag := range []string{in[:len(in)/2], in[len(in)/2:]} {
			if !delta(index, map[string]string{"type": "input_json_delta", "partial_json": frag}) {
				return
			}
		}
	} else {
		send("content_block_start", map[string]any{"type": "content_block_start", "index": index,
			"content_block": map[string]string{"type": "text", "text": ""}})
		for _, word := range rep.words {
			if !delta(index, map[string]string{"type": "text_delta", "text": word}) {
				return
			}
		}
	}
	send("content_block_stop", map[string]any{"type": "content_block_stop", "index": index})
	send("message_delta", map[string]any{"type": "message_delta",
		"delta": map[string]any{"stop_reason": rep.stop, "stop_sequence": nil},
		"usage": map[string]int{"output_tokens": rep.outputTokens()}})
	send("message_stop", map[string]string{"type": "message_stop"})
}
