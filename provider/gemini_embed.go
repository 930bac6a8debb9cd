package provider

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Embeddings and the model list, in both formats. One input goes to
// embedContent, several to batchEmbedContents; the vectors come back as
// OpenAI's list, as floats or, with encoding_format "base64", as
// little-endian float32s. Gemini reports no usage for embeddings: the
// gateway estimates it from the Call's prompt estimate, and says so.

// maxGeminiBatch is the most requests batchEmbedContents takes at once.
const maxGeminiBatch = 100

type oaEmbeddingRequest struct {
	Input          json.RawMessage `json:"input"`
	Dimensions     int             `json:"dimensions"`
	EncodingFormat string          `json:"encoding_format"`
}

type gmEmbedRequest struct {
	Model                string    `json:"model,omitempty"` // in a batch's requests
	Content              gmContent `json:"content"`
	OutputDimensionality int       `json:"outputDimensionality,omitempty"`
}

type gmEmbedding struct {
	Values []json.Number `json:"values"`
}

// embedding is a translated embeddings request: the Gemini body, whether it
// is a batch, and how the vectors go back.
type embedding struct {
	body   []byte
	batch  bool
	base64 bool
}

// geminiEmbedding translates an OpenAI embeddings request for model.
func geminiEmbedding(body []byte, model string) (embedding, error) {
	var in oaEmbeddingRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return embedding{}, badGemini("the request is not a valid embeddings request: " + jsonErrorKind(err))
	}
	var e embedding
	switch in.EncodingFormat {
	case "", "float":
	case "base64":
		e.base64 = true
	default:
		return e, badGemini("encoding_format must be float or base64")
	}
	if in.Dimensions < 0 {
		return e, badGemini("dimensions must be positive")
	}
	raw := bytes.TrimSpace(in.Input)
	var texts []string
	switch {
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return e, badGemini("input: malformed string")
		}
		one := gmEmbedRequest{Content: gmContent{Parts: []gmPart{{Text: &s}}}, OutputDimensionality: in.Dimensions}
		var err error
		e.body, err = json.Marshal(&one)
		return e, err
	case len(raw) > 0 && raw[0] == '[':
		if err := json.Unmarshal(raw, &texts); err != nil {
			return e, badGemini("input must be a string or an array of strings: Gemini embeds text, not token ids")
		}
	}
	switch {
	case len(texts) == 0:
		return e, badGemini("input must be a non-empty string or array of strings")
	case len(texts) > maxGeminiBatch:
		return e, badGemini("Gemini embeds at most " + strconv.Itoa(maxGeminiBatch) + " inputs per request")
	}
	batch := struct {
		Requests []gmEmbedRequest `json:"requests"`
	}{make([]gmEmbedRequest, len(texts))}
	name := "models/" + model
	for i := range texts {
		batch.Requests[i] = gmEmbedRequest{Model: name, Content: gmContent{Parts: []gmPart{{Text: &texts[i]}}},
			OutputDimensionality: in.Dimensions}
	}
	e.batch = true
	var err error
	e.body, err = json.Marshal(&batch)
	return e, err
}

// openAIEmbeddings translates Gemini's answer (embedContent's
// {"embedding":…} or batchEmbedContents' {"embeddings":[…]}).
func (e embedding) openAIEmbeddings(raw []byte, model string) ([]byte, error) {
	var r struct {
		Embedding  *gmEmbedding  `json:"embedding"`
		Embeddings []gmEmbedding `json:"embeddings"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, errGeminiAnswer
	}
	if r.Embedding != nil {
		r.Embeddings = append(r.Embeddings, *r.Embedding)
	}
	b := make([]byte, 0, len(raw)+64*len(r.Embeddings))
	b = append(b, `{"object":"list","data":[`...)
	for i, v := range r.Embeddings {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"object":"embedding","index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"embedding":`...)
		var err error
		if b, err = appendVector(b, v.Values, e.base64); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	b = append(b, `],"model":`...)
	mb, _ := json.Marshal(model)
	b = append(b, mb...)
	return append(b, '}'), nil
}

// appendVector appends a vector as a JSON array of the numbers as Gemini
// wrote them, or as base64 of little-endian float32s.
func appendVector(b []byte, vals []json.Number, b64 bool) ([]byte, error) {
	if !b64 {
		b = append(b, '[')
		for i, v := range vals {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, v...)
		}
		return append(b, ']'), nil
	}
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		f, err := v.Float64()
		if err != nil {
			return nil, errGeminiAnswer
		}
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(f)))
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, raw)
	return append(b, '"'), nil
}

// openAIModels translates Gemini's model list: "models/gemini-2.5-flash"
// is listed as "gemini-2.5-flash", owned by google.
func openAIModels(raw []byte, created int64) ([]byte, error) {
	var r struct {
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, errGeminiAnswer
	}
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	out := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{"list", make([]model, 0, len(r.Models))}
	for _, m := range r.Models {
		out.Data = append(out.Data, model{ID: strings.TrimPrefix(m.Name, "models/"), Object: "model", Created: created, OwnedBy: "google"})
	}
	return json.Marshal(&out)
}
