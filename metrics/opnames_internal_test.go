package metrics

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/llmgate/gateway"
	"github.com/llmgate/gateway/internal/genai"
)

// A call's gen_ai_operation_name is the one its spans carry: before, a
// Responses API call was "responses" here and "chat" in its trace.
func TestOperationNamesAreTheSpansNames(t *testing.T) {
	for op := gateway.OpUnknown; op <= gateway.OpResponses; op++ {
		assert.Equal(t, genai.OperationName(op), opNames[op], "%v", op)
	}
	assert.Equal(t, "chat", opNames[gateway.OpResponses])
}
