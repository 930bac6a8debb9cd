package config

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A path is routed as sent, escapes and all, except a model's id after a
// plainly written /v1/models/, which may hold a '/' sent as %2F: the
// gateway's handler gets that path unescaped, and takes the id from it.
func TestRoutesReadEscapesOnlyInAModelID(t *testing.T) {
	var got string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.URL.Path })
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = "page" })
	h := routes(api, nil, map[string]http.Handler{"/healthz": page})
	for sent, want := range map[string]string{
		"/v1/models/meta-llama%2FLlama-3": "/v1/models/meta-llama/Llama-3",
		"/v1/models/gpt%2D4o-mini":        "/v1/models/gpt-4o-mini",
		"/v1/models/gpt-4o-mini":          "/v1/models/gpt-4o-mini",
		"/v1%2fmodels":                    "/v1%2fmodels",
		"/v1/mod%65ls/gpt-4o-mini":        "/v1/mod%65ls/gpt-4o-mini",
		"/v1%2Fmodels/gpt-4o-mini":        "/v1%2Fmodels/gpt-4o-mini",
		"/health%7a":                      "/health%7a",
		"/healthz":                        "page",
	} {
		got = ""
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, sent, nil))
		assert.Equal(t, want, got, sent)
	}
}
