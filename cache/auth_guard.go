package cache

import (
	"errors"
	"io"
	"net/http"
)

// AuthGuard returns a wrapper for the server's handler (gateway.NewHandler
// over a chain that holds Auth(keys, cfg)) that refuses a request with no
// valid key before its body is read: without it the entry point reads and
// parses up to Limits.MaxBodyBytes of every request, and holds them in its
// MaxBodyBytesInFlight budget, before Auth, inside the Call, can refuse it,
// so a caller with no key could spend the gateway's CPU and crowd the
// bodies of keyed callers out of the budget.
//
// It makes the same checks as Auth, on the same headers and address. A
// request that passes goes on unchanged, and Auth checks it again (a hit in
// keys: the middleware never trusts what came before it). One that fails
// goes on with a body that answers its first Read with the refusal: the
// entry point answers with that error as it answers any of its own (the
// OpenAI shape, X-Request-Id, the observers told) without having read a
// byte of what the caller sent. A GET has no body to read; Auth refuses it.
//
// It returns an error for an invalid config and panics on a nil keys or
// next. The handler is safe for concurrent use.
func AuthGuard(keys KeyLookup, cfg AuthConfig) (func(next http.Handler) http.Handler, error) {
	mw, err := Auth(keys, cfg)
	if err != nil {
		return nil, err
	}
	t := mw(noNext{}).(*authTransport) // the same checks, on the same config
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("cache: nil http.Handler")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := t.authenticate(r); err != nil && r.Context().Err() == nil {
				out := new(http.Request)
				*out = *r
				out.Body = refusingBody{err: err, body: r.Body}
				r = out
			}
			next.ServeHTTP(w, r)
		})
	}, nil
}

// noNext is the RoundTripper under the authTransport AuthGuard asks; it is
// never called.
type noNext struct{}

func (noNext) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("cache: AuthGuard passes no request on")
}

// refusingBody stands for the body of a request AuthGuard refused: its
// first Read fails with the refusal, so the caller's bytes are never read;
// Close closes the real body.
type refusingBody struct {
	err  error
	body io.ReadCloser
}

func (b refusingBody) Read([]byte) (int, error) { return 0, b.err }

func (b refusingBody) Close() error {
	if b.body == nil {
		return nil
	}
	return b.body.Close()
}
