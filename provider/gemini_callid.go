package provider

import (
	"strconv"
	"strings"
)

// Tool call ids between the two formats. OpenAI's clients keep a call's id
// and send it back with the tool's result, and nothing else of the call: so
// the id is what carries Gemini's facts about the call to the next turn.
//
//   - Gemini's own id, when it sent one, is the id; else one is minted from
//     the gateway's call id and the call's position, unique across a
//     conversation's turns.
//   - A thought signature (thinking models sign the function calls of a
//     turn, and Gemini 3 refuses a conversation whose calls come back
//     unsigned) is appended after thoughtSep, and split off again when the
//     conversation comes back, so the call returns to Gemini signed and
//     unchanged. A signature on a text part (the last part of a turn with
//     no calls) has nowhere to ride in OpenAI's format and is dropped:
//     Gemini checks only the function calls' signatures.

const thoughtSep = "__thought__"

// geminiCallID returns the OpenAI id of the n-th function call (0-based) of
// the gateway call callID, whose Gemini id is gmID (may be empty) and
// thought signature sig (may be empty).
func geminiCallID(callID string, n int, gmID, sig string) string {
	id := gmID
	if id == "" {
		id = callID + "_" + strconv.Itoa(n)
	}
	if sig != "" {
		id += thoughtSep + sig
	}
	return id
}

// splitGeminiCallID returns the id to send Gemini and the thought signature
// an OpenAI tool call id carries.
func splitGeminiCallID(id string) (gmID, sig string) {
	gmID, sig, _ = strings.Cut(id, thoughtSep)
	return gmID, sig
}
