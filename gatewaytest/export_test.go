package gatewaytest

// The Sim's bounds, for the tests of package gatewaytest_test.
const (
	MaxSimEmbeddingInputs = maxEmbeddingInputs
	MaxSimEmbeddingValues = maxEmbeddingValues
	MaxSimModelBytes      = maxModelBytes
	MaxSimReplyBytes      = maxReplyBytes
)
