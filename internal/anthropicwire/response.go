package anthropicwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
)

// ErrorType is Anthropic's error type for an HTTP status, as its API and
// SDKs name them.
func ErrorType(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// ErrorJSON is Anthropic's error body, {"type":"error","error":{"type",
// "message"}}, for an error of the given status.
func ErrorJSON(status int, message string) []byte {
	b := mustJSON(struct {
		Type  string `json:"type"`
		Error any    `json:"error"`
	}{"error", struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{ErrorType(status), message}})
	return append(b, '\n')
}

// ErrorEvent is the SSE event that ends an Anthropic stream with an error.
func ErrorEvent(status int, message string) []byte {
	return appendEvent(nil, "error", bytes.TrimRight(ErrorJSON(status, message), "\n"))
}

// chatErrorMessage reads the message of an OpenAI-shaped error body.
func chatErrorMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Message
}

// MaxAnswer bounds a non-stream answer a translator reads whole.
const MaxAnswer = 32 << 20

// maxErrorBody bounds an error answer read for its message.
const maxErrorBody = 64 << 10

// MessagesResponse turns resp, an OpenAI-format target's answer to a request
// MessagesToChatRequest made, into the answer to the caller's Messages
// request for model: a stream is translated event by event
// (NewMessagesStream), a completion (ChatToMessagesResponse) and an error
// (in Anthropic's shape, the status and headers kept, the message the
// target's: a provider redacts it first) when first read, so that a caller
// holding an unread failure waits for nothing. resp's body is closed with
// the new one's.
func MessagesResponse(resp *http.Response, stream bool, model string) *http.Response {
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	switch {
	case resp.StatusCode/100 == 2 && stream:
		resp.Header.Set("Content-Type", "text/event-stream")
		resp.Body = NewMessagesStream(resp.Body, model)
	case resp.StatusCode/100 == 2:
		resp.Header.Set("Content-Type", "application/json")
		resp.Body = &lazyBody{src: resp.Body, limit: MaxAnswer, make: func(b []byte) ([]byte, error) {
			return ChatToMessagesResponse(b, model)
		}}
	default:
		return MessagesError(resp)
	}
	return resp
}

// MessagesError turns resp, an error answer with an OpenAI-shaped body (as
// provider.OpenAI rebuilds them), into one in Anthropic's shape, when it is
// first read: the status, the headers and the message are kept.
func MessagesError(resp *http.Response) *http.Response {
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	resp.Header.Set("Content-Type", "application/json")
	status := resp.StatusCode
	resp.Body = &lazyBody{src: resp.Body, limit: maxErrorBody, make: func(b []byte) ([]byte, error) {
		return ErrorJSON(status, chatErrorMessage(b)), nil
	}}
	return resp
}

// ChatResponse turns resp, an Anthropic answer to a request ChatToMessages
// made, into the answer to the caller's chat request: a stream translated
// event by event (NewChatStream), a message when first read
// (MessagesToChat). Error answers are the provider's to rebuild.
func ChatResponse(resp *http.Response, stream bool, created int64) *http.Response {
	if resp.StatusCode/100 != 2 {
		return resp
	}
	resp.Header.Del("Content-Length")
	resp.ContentLength = -1
	if stream {
		resp.Header.Set("Content-Type", "text/event-stream")
		resp.Body = NewChatStream(resp.Body, created)
		return resp
	}
	resp.Header.Set("Content-Type", "application/json")
	resp.Body = &lazyBody{src: resp.Body, limit: MaxAnswer, make: func(b []byte) ([]byte, error) {
		return MessagesToChat(b, created)
	}}
	return resp
}

// errAnswerTooLarge: an answer over MaxAnswer.
var errAnswerTooLarge = errors.New("anthropicwire: answer too large to translate")

// lazyBody is an answer translated whole when it is first read. A read or
// translation failure is its read error, so the caller never takes a cut
// answer for a whole one. Close may be called concurrently with Read.
type lazyBody struct {
	src   io.ReadCloser
	limit int64
	make  func([]byte) ([]byte, error)

	once sync.Once
	r    bytes.Reader
	err  error
}

func (b *lazyBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		raw, err := io.ReadAll(io.LimitReader(b.src, b.limit+1))
		switch {
		case err != nil:
			b.err = err
		case int64(len(raw)) > b.limit:
			b.err = errAnswerTooLarge
		default:
			var out []byte
			if out, b.err = b.make(raw); b.err == nil {
				b.r.Reset(out)
			}
		}
	})
	if b.err != nil {
		return 0, b.err
	}
	return b.r.Read(p)
}

func (b *lazyBody) Close() error { return b.src.Close() }
