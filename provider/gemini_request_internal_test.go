package provider

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/llmgate/gateway"
)

// Every trap of the request's translation, as an OpenAI body in and the
// Gemini body that must go upstream: each is a bug some gateway shipped.
func TestGeminiRequestTranslation(t *testing.T) {
	tests := []struct {
		name      string
		maxTokens int
		in, want  string
	}{
		{"system and developer anywhere lift into systemInstruction, in order", 0,
			`{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},
			  {"role":"developer","content":[{"type":"text","text":"Answer in French."}]},{"role":"assistant","content":"Salut"},{"role":"user","content":"Again"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]},{"role":"model","parts":[{"text":"Salut"}]},{"role":"user","parts":[{"text":"Again"}]}],
			  "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Answer in French."}]}}`},
		{"assistant tool calls become function calls with object args, ids and signatures", 0,
			`{"model":"m","messages":[{"role":"user","content":"Weather?"},
			  {"role":"assistant","content":null,"tool_calls":[
			    {"id":"call_1__thought__c2ln","type":"function","function":{"name":"weather","arguments":"{\"city\": \"Paris\"}"}},
			    {"id":"call_2","type":"function","function":{"name":"time","arguments":""}}]},
			  {"role":"tool","tool_call_id":"call_1__thought__c2ln","content":"{\"temp\":21}"},
			  {"role":"tool","tool_call_id":"call_2","content":"15:00"},
			  {"role":"user","content":"Thanks"}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"Weather?"}]},
			  {"role":"model","parts":[{"thoughtSignature":"c2ln","functionCall":{"id":"call_1","name":"weather","args":{"city": "Paris"}}},
			                           {"functionCall":{"id":"call_2","name":"time","args":{}}}]},
			  {"role":"user","parts":[{"functionResponse":{"id":"call_1","name":"weather","response":{"temp":21}}},
			                          {"functionResponse":{"id":"call_2","name":"time","response":{"content":"15:00"}}}]},
			  {"role":"user","parts":[{"text":"Thanks"}]}]}`},
		{"a result is named after the nearest call with its id", 0,
			`{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"old","arguments":"{}"}}]},
			  {"role":"tool","tool_call_id":"c","content":"1"},
			  {"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"new","arguments":"{}"}}]},
			  {"role":"tool","tool_call_id":"c","content":"2"}]}`,
			`{"contents":[{"role":"model","parts":[{"functionCall":{"id":"c","name":"old","args":{}}}]},
			  {"role":"user","parts":[{"functionResponse":{"id":"c","name":"old","response":{"content":"1"}}}]},
			  {"role":"model","parts":[{"functionCall":{"id":"c","name":"new","args":{}}}]},
			  {"role":"user","parts":[{"functionResponse":{"id":"c","name":"new","response":{"content":"2"}}}]}]}`},
		{"legacy function messages carry their name", 0,
			`{"model":"m","messages":[{"role":"function","name":"lookup","content":"x"}]}`,
			`{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"lookup","response":{"content":"x"}}}]}]}`},
		{"an empty assistant turn is dropped, an empty text part too", 0,
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":""},{"type":"text","text":"Hi"}]},{"role":"assistant","content":""}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}]}`},
		{"images, audio and files", 0,
			`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},
			  {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
			  {"type":"image_url","image_url":{"url":"https://example.com/cat.webp?size=2","detail":"high"}},
			  {"type":"image_url","image_url":{"url":"https://example.com/photo"}},
			  {"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
			  {"type":"file","file":{"file_data":"data:application/pdf;base64,JVBERi0=","filename":"a.pdf"}}]}]}`,
			`{"contents":[{"role":"user","parts":[{"text":"What is this?"},
			  {"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
			  {"fileData":{"mimeType":"image/webp","fileUri":"https://example.com/cat.webp?size=2"}},
			  {"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/photo"}},
			  {"inlineData":{"mimeType":"audio/wav","data":"UklGRg=="}},
			  {"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}}]}]}`},
		{"tools pass their JSON Schema unchanged; a named tool_choice allows that one", 0,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],
			  "tools":[{"type":"function","function":{"name":"f","description":"does f","parameters":{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"additionalProperties":false}}},
			           {"type":"function","function":{"name":"g"}}],
			  "tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],
			  "tools":[{"functionDeclarations":[{"name":"f","description":"does f","parametersJsonSchema":{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}},"additionalProperties":false}},{"name":"g"}]}],
			  "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}}`},
		{"tool_choice none", 0,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"tool_choice":"none"}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"toolConfig":{"functionCallingConfig":{"mode":"NONE"}}}`},
		{"tool_choice auto", 0,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"tool_choice":"auto"}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}}`},
		{"sampling, stop, n, seed, the Call's max tokens, JSON schema output, reasoning effort", 256,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"temperature":0.2,"top_p":0.9,"stop":"END","n":2,"seed":7,
			  "presence_penalty":0.5,"frequency_penalty":-0.5,"max_tokens":999,"reasoning_effort":"low",
			  "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}}}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],
			  "generationConfig":{"temperature":0.2,"topP":0.9,"maxOutputTokens":256,"stopSequences":["END"],"candidateCount":2,"seed":7,
			    "presencePenalty":0.5,"frequencyPenalty":-0.5,"responseMimeType":"application/json","responseJsonSchema":{"type":"object"},
			    "thinkingConfig":{"thinkingBudget":1024}}}`},
		{"stop as a list, json_object, temperature zero is sent", 0,
			`{"model":"m","messages":[{"role":"user","content":"Hi"}],"stop":["a","b"],"temperature":0,"response_format":{"type":"json_object"}}`,
			`{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"temperature":0,"stopSequences":["a","b"],"responseMimeType":"application/json"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := geminiRequest([]byte(tt.in), tt.maxTokens)
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}

// What the translation cannot express is the caller's bad request, said
// before anything goes upstream.
func TestGeminiRequestRefusals(t *testing.T) {
	for name, body := range map[string]string{
		"result for no call":       `{"messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}`,
		"arguments not an object":  `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"[1]"}}]}]}`,
		"arguments not JSON":       `{"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`,
		"unknown role":             `{"messages":[{"role":"wizard","content":"x"}]}`,
		"file by id":               `{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]}`,
		"image in a system prompt": `{"messages":[{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`,
		"bad data URL":             `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,notbase64"}}]}]}`,
		"custom tool":              `{"messages":[],"tools":[{"type":"custom","custom":{"name":"x"}}]}`,
		"bad tool_choice":          `{"messages":[],"tool_choice":"sometimes"}`,
		"bad reasoning_effort":     `{"messages":[],"reasoning_effort":"extreme"}`,
		"messages not an array":    `{"messages":"hi"}`,
		"function without name":    `{"messages":[{"role":"function","content":"x"}]}`,
	} {
		_, err := geminiRequest([]byte(body), 0)
		assert.ErrorIs(t, err, gateway.ErrBadRequest, name)
	}
}

func TestGeminiCallIDsRoundTrip(t *testing.T) {
	for _, tt := range []struct{ gmID, sig string }{{"", ""}, {"fc-1", ""}, {"", "c2ln+/=="}, {"fc-2", "c2ln"}} {
		id := geminiCallID("call_abc", 3, tt.gmID, tt.sig)
		gmID, sig := splitGeminiCallID(id)
		want := tt.gmID
		if want == "" {
			want = "call_abc_3"
		}
		assert.Equal(t, want, gmID)
		assert.Equal(t, tt.sig, sig)
	}
}
