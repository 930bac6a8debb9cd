package provider

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"path"
	"strings"

	"github.com/llmgate/gateway"
)

// geminiRequest translates an OpenAI chat request body into Gemini's
// generateContent request. maxTokens is the Call's (the entry point parsed
// max_tokens or max_completion_tokens once); 0 leaves Gemini's default.
//
//   - system and developer messages, wherever they stand, become
//     systemInstruction, in order;
//   - assistant is Gemini's "model", whose tool_calls become functionCall
//     parts (arguments, a JSON string in OpenAI's format, an object in
//     Gemini's), with the call's id and any thought signature the id
//     carries (see geminiCallID);
//   - tool (and the legacy function) messages become functionResponse parts,
//     named after the call they answer, and consecutive ones, parallel
//     results, share one user content;
//   - images (data: URLs inline, others by URI), audio and files become
//     inlineData or fileData parts;
//   - tools become function declarations, tool_choice the function calling
//     mode, and the sampling fields generationConfig.
//
// A request the translation cannot express (a tool result for no call,
// arguments that are not a JSON object, a file by id, a non-function tool)
// is an error deriving from gateway.ErrBadRequest.
func geminiRequest(body []byte, maxTokens int) ([]byte, error) {
	var in oaChatRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, badGemini("the request is not a valid chat request: " + jsonErrorKind(err))
	}
	var out gmRequest
	t := translator{in: &in}
	for i := range in.Messages {
		if err := t.message(i, &out); err != nil {
			return nil, err
		}
	}
	if out.Contents == nil {
		out.Contents = []gmContent{} // Gemini's own error says what is missing
	}
	if err := t.tools(&out); err != nil {
		return nil, err
	}
	gc, err := generationConfig(&in, maxTokens)
	if err != nil {
		return nil, err
	}
	out.GenerationConfig = gc
	return json.Marshal(&out)
}

func badGemini(msg string) error {
	return gateway.ErrBadRequest.WithMessage("provider: gemini: " + msg)
}

// jsonErrorKind names a decoding error without quoting the input.
func jsonErrorKind(err error) string {
	var te *json.UnmarshalTypeError
	if errors.Is(err, errContentType) {
		return errContentType.Error()
	}
	if errors.As(err, &te) && te.Field != "" {
		return "field " + te.Field + " has the wrong type"
	}
	return "malformed JSON"
}

type translator struct {
	in *oaChatRequest
}

func (t *translator) message(i int, out *gmRequest) error {
	m := &t.in.Messages[i]
	switch m.Role {
	case "system", "developer":
		parts, err := textParts(&m.Content)
		if err != nil {
			return err
		}
		if out.SystemInstruction == nil {
			out.SystemInstruction = &gmContent{}
		}
		out.SystemInstruction.Parts = append(out.SystemInstruction.Parts, parts...)
		return nil
	case "user":
		parts, err := userParts(&m.Content)
		if err != nil {
			return err
		}
		appendContent(out, "user", parts)
		return nil
	case "assistant":
		parts, err := textParts(&m.Content)
		if err != nil {
			return err
		}
		for _, tc := range m.ToolCalls {
			fc, sig, err := functionCall(&tc)
			if err != nil {
				return err
			}
			parts = append(parts, gmPart{FunctionCall: fc, ThoughtSignature: sig})
		}
		appendContent(out, "model", parts)
		return nil
	case "tool", "function":
		fr, err := t.functionResponse(i)
		if err != nil {
			return err
		}
		// Parallel results answer one model turn: one content holds them.
		if n := len(out.Contents); n > 0 && i > 0 && isToolRole(t.in.Messages[i-1].Role) {
			out.Contents[n-1].Parts = append(out.Contents[n-1].Parts, gmPart{FunctionResponse: fr})
			return nil
		}
		out.Contents = append(out.Contents, gmContent{Role: "user", Parts: []gmPart{{FunctionResponse: fr}}})
		return nil
	}
	return badGemini("unsupported message role " + quoteSafe(m.Role))
}

func isToolRole(r string) bool { return r == "tool" || r == "function" }

// appendContent appends a content, unless it has no parts: Gemini refuses
// an empty one (an assistant turn with neither text nor calls, say).
func appendContent(out *gmRequest, role string, parts []gmPart) {
	if len(parts) > 0 {
		out.Contents = append(out.Contents, gmContent{Role: role, Parts: parts})
	}
}

// textParts reads a content that may hold text only: a string, an array of
// text parts, or null.
func textParts(c *oaContent) ([]gmPart, error) {
	if !c.isParts {
		return textPart(nil, c.text), nil
	}
	var out []gmPart
	for i := range c.parts {
		switch c.parts[i].Type {
		case "text":
			out = textPart(out, c.parts[i].Text)
		case "refusal": // an assistant's earlier refusal: its text is history
			out = textPart(out, c.parts[i].Text)
		default:
			return nil, badGemini("content part " + quoteSafe(c.parts[i].Type) + " is allowed only in user messages")
		}
	}
	return out, nil
}

func textPart(out []gmPart, s string) []gmPart {
	if s == "" {
		return out
	}
	return append(out, gmPart{Text: &s})
}

// userParts reads a user content: text, images, audio and files.
func userParts(c *oaContent) ([]gmPart, error) {
	if !c.isParts {
		return textParts(c)
	}
	var out []gmPart
	for i := range c.parts {
		p := &c.parts[i]
		switch {
		case p.Type == "text":
			out = textPart(out, p.Text)
		case p.Type == "image_url" && p.ImageURL != nil:
			part, err := mediaPart(p.ImageURL.URL, "image/jpeg")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case p.Type == "input_audio" && p.InputAudio != nil:
			out = append(out, gmPart{InlineData: &gmBlob{MimeType: "audio/" + audioSubtype(p.InputAudio.Format), Data: p.InputAudio.Data}})
		case p.Type == "file" && p.File != nil && p.File.FileData != "":
			part, err := mediaPart(p.File.FileData, "application/pdf")
			if err != nil {
				return nil, err
			}
			out = append(out, part)
		case p.Type == "file":
			return nil, badGemini("files by file_id are OpenAI's; send file_data")
		default:
			return nil, badGemini("unsupported content part " + quoteSafe(p.Type))
		}
	}
	return out, nil
}

func audioSubtype(format string) string {
	if format == "mp3" {
		return "mp3"
	}
	return "wav"
}

// mediaPart turns a data: URL into inline data and any other URL into a
// file reference, its MIME type guessed from its extension.
func mediaPart(u, fallback string) (gmPart, error) {
	if rest, ok := strings.CutPrefix(u, "data:"); ok {
		meta, data, ok := strings.Cut(rest, ",")
		mt, enc, _ := strings.Cut(meta, ";")
		if !ok || enc != "base64" || mt == "" {
			return gmPart{}, badGemini("a data URL must be data:TYPE;base64,DATA")
		}
		return gmPart{InlineData: &gmBlob{MimeType: mt, Data: data}}, nil
	}
	if u == "" {
		return gmPart{}, badGemini("an image or file part has no URL")
	}
	mt := fallback
	if t := mime.TypeByExtension(path.Ext(strings.SplitN(u, "?", 2)[0])); t != "" {
		mt, _, _ = strings.Cut(t, ";")
	}
	return gmPart{FileData: &gmFileData{MimeType: mt, FileURI: u}}, nil
}

// functionCall translates an assistant's tool call.
func functionCall(tc *oaToolCall) (*gmFunctionCall, string, error) {
	if tc.Type != "" && tc.Type != "function" {
		return nil, "", badGemini("tool call type " + quoteSafe(tc.Type) + " is not supported")
	}
	args, err := argsObject(tc.Function.Arguments)
	if err != nil {
		return nil, "", err
	}
	id, sig := splitGeminiCallID(tc.ID)
	return &gmFunctionCall{ID: id, Name: tc.Function.Name, Args: args}, sig, nil
}

// argsObject is a tool call's arguments as Gemini wants them: an object.
func argsObject(s string) (json.RawMessage, error) {
	b := bytes.TrimSpace([]byte(s))
	if len(b) == 0 {
		return json.RawMessage("{}"), nil
	}
	if b[0] != '{' || !json.Valid(b) {
		return nil, badGemini("tool call arguments must be a JSON object")
	}
	return b, nil
}

// functionResponse translates the tool message at i, naming the function
// after the call it answers: Gemini matches a response to its call by name
// (and id), OpenAI by id alone.
func (t *translator) functionResponse(i int) (*gmFunctionResponse, error) {
	m := &t.in.Messages[i]
	var text strings.Builder
	parts, err := textParts(&m.Content)
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		text.WriteString(*p.Text)
	}
	name := m.Name
	if m.Role == "tool" {
		name = ""
		for j := i - 1; j >= 0 && name == ""; j-- {
			for _, tc := range t.in.Messages[j].ToolCalls {
				if tc.ID == m.ToolCallID {
					name = tc.Function.Name
					break
				}
			}
		}
		if name == "" {
			return nil, badGemini("a tool message answers no earlier tool call (tool_call_id " + quoteSafe(m.ToolCallID) + ")")
		}
	}
	if name == "" {
		return nil, badGemini("a function message has no name")
	}
	id, _ := splitGeminiCallID(m.ToolCallID)
	return &gmFunctionResponse{ID: id, Name: name, Response: resultObject(text.String())}, nil
}

// resultObject is a tool's result as Gemini wants it, an object: the
// result itself when it is a JSON object, else {"content": result}.
func resultObject(s string) json.RawMessage {
	if b := bytes.TrimSpace([]byte(s)); len(b) > 0 && b[0] == '{' && json.Valid(b) {
		return b
	}
	v, _ := json.Marshal(struct {
		Content string `json:"content"`
	}{s})
	return v
}
