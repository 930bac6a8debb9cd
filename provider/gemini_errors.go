package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmgate/gateway"
)

// Gemini's answers that need more than a status: its error bodies, which
// say things the status does not, and the translated body of a whole answer.

// upstreamError prepares an error answer for callers, breakers and routers.
// Gemini answers an invalid key with 400 INVALID_ARGUMENT (reason
// API_KEY_INVALID), which would read as the caller's bad request, failing
// the call instead of moving it to another target: it becomes the 401 it
// means. A 429's google.rpc.RetryInfo retryDelay becomes Retry-After when
// no header says it. Then the body is rebuilt as OpenAI's are (sanitizeError),
// unless VerbatimErrors.
//
// Only 400 and 429 bodies are read here, bounded; the others are rebuilt
// when the caller first reads them, so that a stalled error body does not
// hold a router's fallback.
func (p *Gemini) upstreamError(resp *http.Response) {
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusTooManyRequests {
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
		resp.Body.Close()
		if err == nil && len(raw) > maxErrorBody {
			err = fmt.Errorf("provider: %s: the upstream's error body is over %d bytes; its rest was not read", p.wire.name, maxErrorBody)
		}
		var body io.Reader = bytes.NewReader(raw)
		resp.ContentLength = int64(len(raw)) // the bytes kept, not the upstream's count
		if err != nil {
			// Cut, by the upstream or by the bound: a caller who gets it
			// verbatim must not take it for a whole answer.
			body, resp.ContentLength = io.MultiReader(body, failingReader{err}), -1
		}
		resp.Body = io.NopCloser(body)
		d := geminiErrorDetails(raw)
		switch {
		case resp.StatusCode == http.StatusBadRequest && d.keyInvalid:
			resp.StatusCode, resp.Status = http.StatusUnauthorized, "401 Unauthorized"
		case resp.StatusCode == http.StatusTooManyRequests && d.retryDelay > 0 &&
			resp.Header.Get("Retry-After") == "" && resp.Header.Get("Retry-After-Ms") == "":
			resp.Header.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.retryDelay.Seconds())), 10))
		}
	}
	if !p.wire.verbatimErrors {
		p.wire.sanitizeError(resp)
	}
}

type geminiDetails struct {
	keyInvalid bool
	retryDelay time.Duration
}

// geminiErrorDetails reads google.rpc error details:
// {"error":{"code","message","status","details":[{"@type","reason"},
// {"@type","retryDelay":"37s"}]}}.
func geminiErrorDetails(raw []byte) geminiDetails {
	var env struct {
		Error struct {
			Details []struct {
				Reason     string `json:"reason"`
				RetryDelay string `json:"retryDelay"`
			} `json:"details"`
		} `json:"error"`
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' { // some Gemini endpoints wrap it in a list
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil || len(list) == 0 {
			return geminiDetails{}
		}
		raw = list[0]
	}
	var d geminiDetails
	if json.Unmarshal(raw, &env) != nil {
		return d
	}
	for _, x := range env.Error.Details {
		if x.Reason == "API_KEY_INVALID" {
			d.keyInvalid = true
		}
		if s, ok := strings.CutSuffix(x.RetryDelay, "s"); ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 24*3600 {
				d.retryDelay = time.Duration(f * float64(time.Second))
			}
		}
	}
	return d
}

// maxGeminiAnswer bounds a whole (non-stream) answer read for translation.
const maxGeminiAnswer = 64 << 20

// translatedBody is a whole answer, read and translated on its first Read
// (not in RoundTrip: the response's headers are returned at once). Close
// may be called concurrently with Read.
type translatedBody struct {
	src       io.ReadCloser
	translate func([]byte) ([]byte, error)

	once sync.Once
	r    bytes.Reader
	err  error
}

func (b *translatedBody) Read(p []byte) (int, error) {
	b.once.Do(func() {
		raw, err := io.ReadAll(io.LimitReader(b.src, maxGeminiAnswer+1))
		switch {
		case err != nil:
			b.err = err
		case len(raw) > maxGeminiAnswer:
			b.err = gateway.ErrUpstream.WithMessage("provider: gemini: the upstream's answer is over 64 MiB")
		default:
			var out []byte
			if out, b.err = b.translate(raw); b.err == nil {
				b.r.Reset(out)
			}
		}
	})
	if b.err != nil {
		return 0, b.err
	}
	return b.r.Read(p)
}

func (b *translatedBody) Close() error { return b.src.Close() }

// failingReader is the end of a body that was cut: it fails with err.
type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }
