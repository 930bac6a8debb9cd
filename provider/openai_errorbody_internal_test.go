package provider

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// What an upstream error message keeps and loses: words of known secret
// shapes go, the words a caller needs to act on stay.
func TestAccountDetail(t *testing.T) {
	for _, w := range []string{
		"sk-uppp****", "sk-proj-abcd", "sk_live_1234", "SK-ANT-api03-x", "key-abcd", "abc***def",
		"org-4ZkqW9cH2xYbN7pLmTq1s3Rv", "proj_Q7aZc4r2LmN8", "user-Zx9Yw8Vu7Ts6", "acct_1Nv0FGQ9RKHgCVdK",
		"jane.doe+ai@example.com", "d6f1a2b3-4c5d-4e6f-8a9b-0c1d2e3f4a5b", "sub-8f14e45f-ceea-467f-a2b1-6c3ad7e2b9f0",
		"0123456789abcdef0123456789abcdef", "123456789012",
	} {
		assert.True(t, accountDetail(w), w)
	}
	for _, w := range []string{
		"gpt-4o-mini-2024-07-18", "text-embedding-3-large", "claude-3-5-sonnet-20241022", "user-provided", "organization",
		"org-wide", "project", "rate-limits", "ChatCompletions_Create", "2.036s", "10000000000", "req_abc123def456",
		"invalid_api_key", "messages[0].content", "sk", "@", "a@b", "S0",
	} {
		assert.False(t, accountDetail(w), w)
	}
}

func TestRedactKeepsTheSentence(t *testing.T) {
	p := &OpenAI{secrets: []string{"sk-configured-secret"}}
	assert.Equal(t, "key [REDACTED] of org [REDACTED], see https://platform.openai.com/account/rate-limits.",
		p.redact("key sk-configured-secret of org org-AbCdEf0123456789, see https://platform.openai.com/account/rate-limits."))
	assert.Equal(t, "plain text stays.", p.redact("plain text stays."))
}
