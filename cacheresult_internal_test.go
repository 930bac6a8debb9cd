package gateway

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway/internal/hooks"
)

func TestCacheResultIsRecordedOnce(t *testing.T) {
	c := &Call{}
	assert.Empty(t, c.CacheResult())
	hooks.SetCacheResult(c, "miss")
	hooks.SetCacheResult(c, "hit")
	assert.Equal(t, "miss", c.CacheResult(), "the first record stands")
}
