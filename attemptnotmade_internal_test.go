package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// attemptNotMade takes back only its own start: once another attempt has
// started (a hedge), that one's target stays the latest, and the next
// attempt's kind is decided from it.
func TestAttemptNotMadeLeavesALaterStart(t *testing.T) {
	c := testCall(t, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	_, refused := c.attemptStarted("no-chat")
	c.attemptNotMade(refused)
	c.attemptEnded()
	kind, _ := c.attemptStarted("a")
	assert.Equal(t, AttemptFirst, kind, "a refusal taken back is no attempt before")
	c.attemptEnded()

	_, refused = c.attemptStarted("no-chat")
	kind, _ = c.attemptStarted("b") // a hedge, started before the refusal came back
	assert.Equal(t, AttemptHedge, kind)
	c.attemptNotMade(refused)
	c.attemptEnded()
	c.attemptEnded()
	kind, _ = c.attemptStarted("b")
	assert.Equal(t, AttemptRetry, kind, "b, started after the refused one, is still the latest")
}
