package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/llmgate/gateway"
)

// Echo is a gateway.Provider with one model, "echo", that answers a chat with
// the last message it was sent, in the OpenAI format, streamed or not. It
// needs an entry point (NewHandler, NewClient) in front, which parses the
// request into the Call it reads; what it is sent, it reads from the
// attempt's Outbound, which is authoritative (a middleware may have edited
// the body). Echo is stateless: safe for concurrent use.
type Echo struct{}

func (Echo) Name() string     { return "echo" }
func (Echo) Models() []string { return []string{"echo"} }

func (Echo) RoundTrip(req *http.Request) (*http.Response, error) {
	req.Body.Close() // the Outbound holds the same bytes
	c := gateway.CallFrom(req.Context())
	var in struct{ Messages []struct{ Content string } }
	switch {
	case c == nil:
		return nil, gateway.ErrInternal.WithMessage("echo: no gateway.Call: serve Echo through gateway.NewHandler or NewClient")
	case c.Op == gateway.OpModels:
		return reply(req, "application/json", `{"object":"list","data":[{"id":"echo","object":"model","owned_by":"echo"}]}`), nil
	case c.Op != gateway.OpChat || json.Unmarshal(gateway.OutboundFrom(req.Context()).Body, &in) != nil || len(in.Messages) == 0:
		return nil, gateway.ErrBadRequest.WithMessage("echo: send a chat whose messages are text")
	}
	words := strings.SplitAfter(in.Messages[len(in.Messages)-1].Content, " ")
	n := strconv.Itoa(len(words))
	usage := `"usage":{"prompt_tokens":` + strconv.Itoa(c.PromptTokens) + `,"completion_tokens":` + n + `}`
	text, _ := json.Marshal(strings.Join(words, ""))
	if !c.Stream {
		return reply(req, "application/json", `{"id":"`+c.ID+`","object":"chat.completion","model":"echo","choices":[{"index":0,`+
			`"message":{"role":"assistant","content":`+string(text)+`},"finish_reason":"stop"}],`+usage+`}`), nil
	}
	var sse []byte
	for _, w := range words {
		tok, _ := json.Marshal(w)
		sse = gateway.AppendEvent(sse, []byte(`{"id":"`+c.ID+`","object":"chat.completion.chunk","model":"echo","choices":[{"index":0,"delta":{"content":`+string(tok)+`}}]}`))
	}
	sse = gateway.AppendEvent(sse, []byte(`{"id":"`+c.ID+`","object":"chat.completion.chunk","model":"echo","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`))
	sse = gateway.AppendEvent(sse, []byte(`{"id":"`+c.ID+`","object":"chat.completion.chunk","model":"echo","choices":[],`+usage+`}`))
	return reply(req, "text/event-stream", string(gateway.AppendDone(sse))), nil
}

func reply(req *http.Request, contentType, body string) *http.Response {
	return &http.Response{StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Header: http.Header{"Content-Type": {contentType}}, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}
}
