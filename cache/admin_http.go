package cache

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/llmgate/gateway"
)

// AdminPrefix is where Handler serves the admin API.
const AdminPrefix = "/admin/keys"

// maxAdminBody bounds an admin request's body.
const maxAdminBody = 64 << 10

var (
	errKeyNotFound = newSentinel(http.StatusNotFound, "invalid_request_error", "key_not_found", "cache: no key has this id")
	errKeyConflict = newSentinel(http.StatusConflict, "invalid_request_error", "key_conflict", "cache: a key with this id exists")
	errKeyFinal    = errKeyConflict.WithMessage("cache: the key is revoked: it cannot change again")
	errNotTold     = newSentinel(http.StatusBadGateway, "api_error", "key_cache_not_told",
		"cache: the change is stored, but the key cache was not told: it takes effect when the cached entry expires")
	errAdminRoute = gateway.ErrNotFound.WithMessage("cache: unknown admin path")
)

// Handler returns the admin API over a, for requests carrying the admin key
// whose digest is adminKey (Authorization: Bearer <admin key>, compared on
// digests in constant time; anything else is a 401). It serves, under
// AdminPrefix:
//
//	GET   /admin/keys                   {"keys":[KeyMeta…]}
//	POST  /admin/keys                   KeySpec → 201 {"key":KeyMeta,"secret":"sk-llmgate-…"} (the secret, once)
//	PATCH /admin/keys/{id}              KeyPatch → {"key":KeyMeta}
//	POST  /admin/keys/{id}/disable      → {"key":KeyMeta}  (also enable, revoke)
//
// Errors are in the OpenAI shape: 400 for a bad body or key, 404 for an
// unknown id, 409 for a taken id or a revoked key, 413 for a body over
// 64 KiB. An id with a "/" in it is sent escaped (%2F). It returns an
// error when adminKey is no digest: an admin API is never open.
func (a *KeyAdmin) Handler(adminKey Digest) (http.Handler, error) {
	if !adminKey.Valid() {
		return nil, errors.New("cache: the admin API needs the digest of an admin key")
	}
	return &adminHandler{a: a, key: adminKey}, nil
}

type adminHandler struct {
	a   *KeyAdmin
	key Digest
}

func (h *adminHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store") // a created key's secret is in a body
	if !h.authorized(r.Header) {
		gateway.WriteError(w, ErrUnauthorized.WithMessage("cache: the admin API needs the admin key"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), AdminPrefix)
	if !ok {
		gateway.WriteError(w, errAdminRoute)
		return
	}
	ctx := r.Context()
	switch rest = strings.TrimPrefix(rest, "/"); {
	case rest == "" && r.Method == http.MethodGet:
		h.list(w, r)
	case rest == "" && r.Method == http.MethodPost:
		var spec KeySpec
		if !decode(w, r, &spec) {
			return
		}
		secret, m, err := h.a.Create(ctx, spec)
		if err != nil && !errors.Is(err, ErrCacheNotTold) {
			gateway.WriteError(w, adminError(err))
			return
		}
		// Even when the cache was not told the key exists: its secret is
		// shown, or it is lost.
		writeJSON(w, http.StatusCreated, struct {
			Key     KeyMeta `json:"key"`
			Secret  string  `json:"secret"`
			Warning string  `json:"warning,omitempty"`
		}{m, secret, warning(err)})
	default:
		idPart, action, _ := strings.Cut(rest, "/")
		id, err := url.PathUnescape(idPart)
		if err != nil || id == "" {
			gateway.WriteError(w, errAdminRoute)
			return
		}
		var m KeyMeta
		switch {
		case action == "" && r.Method == http.MethodPatch:
			var p KeyPatch
			if !decode(w, r, &p) {
				return
			}
			m, err = h.a.Update(ctx, id, p)
		case r.Method == http.MethodPost && (action == "disable" || action == "enable" || action == "revoke"):
			m, err = h.a.SetStatus(ctx, id, map[string]Status{"disable": StatusDisabled, "enable": StatusActive, "revoke": StatusRevoked}[action])
		default:
			gateway.WriteError(w, errAdminRoute)
			return
		}
		if err != nil && !errors.Is(err, ErrCacheNotTold) {
			gateway.WriteError(w, adminError(err))
			return
		}
		if err != nil { // stored, but a cached copy may still serve: the admin must know
			gateway.WriteError(w, errNotTold)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Key KeyMeta `json:"key"`
		}{m})
	}
}

func (h *adminHandler) authorized(hdr http.Header) bool {
	v := hdr.Values("Authorization")
	if len(v) != 1 || len(v[0]) < len("Bearer ") || !equalFoldASCII(v[0][:len("Bearer ")], "Bearer ") {
		return false
	}
	d := DigestOf(v[0][len("Bearer "):])
	return subtle.ConstantTimeCompare(bytesOfString(string(d)), bytesOfString(string(h.key))) == 1
}

// list writes every key, one at a time, so that a large store is never
// held in memory.
func (h *adminHandler) list(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	var buf bytes.Buffer
	buf.WriteString(`{"keys":[`)
	n := 0
	enc := json.NewEncoder(&buf)
	err := h.a.List(r.Context(), func(m KeyMeta) error {
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		if err := enc.Encode(m); err != nil {
			return err
		}
		if buf.Len() >= 32<<10 {
			_, err := w.Write(buf.Bytes())
			buf.Reset()
			return err
		}
		return nil
	})
	if err != nil && n == 0 {
		w.Header().Del("Content-Type")
		gateway.WriteError(w, adminError(err))
		return
	}
	if err != nil {
		panic(http.ErrAbortHandler) // a cut list must not look whole
	}
	buf.WriteString("]}\n")
	_, _ = w.Write(buf.Bytes())
}

// decode reads r's JSON body into v, refusing unknown fields and a body
// over maxAdminBody; it answers the error itself and reports whether it
// decoded.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAdminBody))
	if err != nil {
		gateway.WriteError(w, err) // ErrorFor: a body too large is a 413
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		msg := "cache: the body is not the JSON expected"
		if err != nil {
			msg += ": " + clipID(err.Error())
		}
		gateway.WriteError(w, gateway.ErrBadRequest.WithMessage(msg))
		return false
	}
	return true
}

// adminError maps a store's or KeyAdmin's error to what the admin sees.
func adminError(err error) error {
	switch {
	case errors.Is(err, ErrNotFound):
		return errKeyNotFound
	case errors.Is(err, ErrKeyExists):
		return errKeyConflict
	case errors.Is(err, ErrKeyRevoked):
		return errKeyFinal
	case errors.Is(err, ErrStoreFull):
		return gateway.ErrInternal.WithMessage(err.Error())
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return ge
	}
	if isValidation(err) {
		return gateway.ErrBadRequest.WithMessage(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return gateway.ErrInternal.WithMessage("cache: the key store failed")
}

// isValidation reports whether err is KeyMeta.Validate's or checkChange's.
func isValidation(err error) bool {
	var v invalidKey
	return errors.As(err, &v)
}

func warning(err error) string {
	if err == nil {
		return ""
	}
	return ErrCacheNotTold.Error()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
