package billing

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPipelineDeliversEveryRecordOnceToEverySink(t *testing.T) {
	a, b := newMemSink(), newMemSink()
	p, err := NewPipeline(PipelineConfig{Dir: t.TempDir(), Sinks: map[string]Sink{"a": a, "b": b}, Buffer: 256, BatchSize: 100})
	require.NoError(t, err)
	enqueueAll(t, p, 10_000, 8)
	closePipeline(t, p)

	for _, s := range []*memSink{a, b} {
		s.requireAll(t, 10_000)
		assert.LessOrEqual(t, s.maxBatch(), 100)
	}
	st := p.Stats()
	assert.Equal(t, uint64(10_000), st.Enqueued)
	assert.Equal(t, uint64(10_000), st.Logged+st.Spilled)
	assert.Zero(t, st.Dropped)
	for _, name := range []string{"a", "b"} {
		assert.Equal(t, uint64(10_000), st.Sinks[name].Written, name)
	}
}
