package gateway_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway"
)

func TestCallerGroupReadsUnsetAndOutOfRangeAsBatch(t *testing.T) {
	for p, want := range map[int]int{0: 3, 1: 1, 2: 2, 3: 3, 4: 3, -1: 3} {
		assert.Equal(t, want, gateway.Caller{Priority: p}.Group(), "priority %d", p)
	}
}
