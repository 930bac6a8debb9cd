package provider

import (
	"bytes"
	"encoding/json"
)

// The options of a chat request in Gemini's terms: tools and tool_choice as
// function declarations and the function calling mode, the sampling fields
// as generationConfig.

// tools translates tools and tool_choice.
func (t *translator) tools(out *gmRequest) error {
	var decls []gmFunctionDeclaration
	for _, tool := range t.in.Tools {
		if tool.Type != "function" {
			return badGemini("tool type " + quoteSafe(tool.Type) + " is not supported")
		}
		d := gmFunctionDeclaration{Name: tool.Function.Name, Description: tool.Function.Description}
		if p := bytes.TrimSpace(tool.Function.Parameters); len(p) > 0 && p[0] != 'n' {
			d.ParametersJSONSchema = p
		}
		decls = append(decls, d)
	}
	if len(decls) > 0 {
		out.Tools = []gmTool{{FunctionDeclarations: decls}}
	}
	tc := bytes.TrimSpace(t.in.ToolChoice)
	if len(tc) == 0 || tc[0] == 'n' {
		return nil
	}
	var cfg gmFunctionCallingConfig
	if tc[0] == '"' {
		var s string
		_ = json.Unmarshal(tc, &s)
		switch s {
		case "none":
			cfg.Mode = "NONE"
		case "auto":
			cfg.Mode = "AUTO"
		case "required":
			cfg.Mode = "ANY"
		default:
			return badGemini("tool_choice " + quoteSafe(s) + " is not none, auto or required")
		}
	} else {
		var named struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(tc, &named); err != nil || named.Type != "function" || named.Function.Name == "" {
			return badGemini("tool_choice must be none, auto, required or a function by name")
		}
		cfg = gmFunctionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{named.Function.Name}}
	}
	out.ToolConfig = &gmToolConfig{FunctionCallingConfig: cfg}
	return nil
}

// reasoningBudgets are the thinking budgets of OpenAI's reasoning_effort
// values, as Google's own OpenAI-compatible endpoint maps them.
var reasoningBudgets = map[string]int{"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}

func generationConfig(in *oaChatRequest, maxTokens int) (*gmGenerationConfig, error) {
	gc := gmGenerationConfig{Temperature: in.Temperature, TopP: in.TopP, MaxOutputTokens: maxTokens,
		Seed: in.Seed, PresencePenalty: in.PresencePenalty, FrequencyPenalty: in.FrequencyPenalty}
	if in.N != nil && *in.N > 1 {
		gc.CandidateCount = *in.N
	}
	if stop := bytes.TrimSpace(in.Stop); len(stop) > 0 && stop[0] != 'n' {
		if stop[0] == '"' {
			var s string
			_ = json.Unmarshal(stop, &s)
			gc.StopSequences = []string{s}
		} else if err := json.Unmarshal(stop, &gc.StopSequences); err != nil {
			return nil, badGemini("stop must be a string or an array of strings")
		}
	}
	if rf := in.ResponseFormat; rf != nil {
		switch rf.Type {
		case "json_object":
			gc.ResponseMimeType = "application/json"
		case "json_schema":
			gc.ResponseMimeType = "application/json"
			if rf.JSONSchema != nil && len(rf.JSONSchema.Schema) > 0 {
				gc.ResponseJSONSchema = rf.JSONSchema.Schema
			}
		case "", "text":
		default:
			return nil, badGemini("response_format " + quoteSafe(rf.Type) + " is not supported")
		}
	}
	if in.ReasoningEffort != "" {
		b, ok := reasoningBudgets[in.ReasoningEffort]
		if !ok {
			return nil, badGemini("reasoning_effort " + quoteSafe(in.ReasoningEffort) + " is not supported")
		}
		gc.ThinkingConfig = &gmThinkingConfig{ThinkingBudget: b}
	}
	if gc.Temperature == nil && gc.TopP == nil && gc.MaxOutputTokens == 0 && gc.StopSequences == nil &&
		gc.CandidateCount == 0 && gc.Seed == nil && gc.PresencePenalty == nil && gc.FrequencyPenalty == nil &&
		gc.ResponseMimeType == "" && gc.ThinkingConfig == nil {
		return nil, nil
	}
	return &gc, nil
}
