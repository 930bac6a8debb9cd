package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// modelsPath is the model list's path; a model's retrieval is
// modelsPath + "/" + its id (GET /v1/models/{id}, openai-go's Models.Get).
const modelsPath = "/v1/models"

// modelIDFromPath returns the id a retrieval's path names after its first
// modelsPath + "/" (ids may hold a '/': "org/model"), and whether the path
// is one, with an id. prefix is what comes before modelsPath: "" in server
// mode, an SDK base URL's path in client mode.
func modelIDFromPath(path string) (prefix, id string, ok bool) {
	i := strings.Index(path, modelsPath+"/")
	if i < 0 {
		return "", "", false
	}
	id = path[i+len(modelsPath)+1:]
	return path[:i], id, id != ""
}

// maxModelListBytes bounds the model list a retrieval reads.
const maxModelListBytes = 8 << 20

// pickModel answers a model's retrieval from resp, the chain's answer to
// the list request it was sent as: a 2xx list gives the entry of its data
// whose id is id, verbatim, or ErrModelNotFound when none is; a list that
// is not the OpenAI shape ({"data":[{"id":…},…]}) is the upstream's
// failure (ErrUpstream). Any other status is passed on as it came. It
// closes resp's body when it replaces it.
func pickModel(resp *http.Response, id string) (*http.Response, error) {
	if resp.StatusCode/100 != 2 {
		return resp, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxModelListBytes+1))
	resp.Body.Close()
	if err != nil {
		return nil, ErrUpstream.withCause(err)
	}
	if len(data) > maxModelListBytes {
		return nil, ErrUpstream.WithMessage("gateway: the model list is over " + strconv.Itoa(maxModelListBytes>>20) + " MiB")
	}
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, ErrUpstream.WithMessage("gateway: the model list is not JSON in the OpenAI shape")
	}
	for _, raw := range list.Data {
		var m struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(raw, &m) == nil && m.ID == id {
			h := make(http.Header, 1)
			h.Set("Content-Type", "application/json")
			return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: h, Body: io.NopCloser(bytes.NewReader(raw)), ContentLength: int64(len(raw)), Request: resp.Request}, nil
		}
	}
	return nil, ErrModelNotFound.WithMessage("gateway: model " + strconv.Quote(clip(id, maxEchoed)) + " is not served")
}
