package gateway

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What outlives a call keeps its id and model (a usage record in a queue, a
// sink's window of recent ids, a limiter's key): they are strings of their
// own, so keeping them keeps nothing else of the call alive. When both
// pointed into the Call's one allocation, a billing sink's window of recent
// ids held every Call it named, and the main job's memory grew to 300 MiB
// under load.
func TestKeptIDAndModelDoNotKeepTheCallAlive(t *testing.T) {
	e := &entry{}
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<20) + `"}]}`)
	c, _, err := e.begin(context.Background(), OpChat, body, time.Now())
	require.NoError(t, err)
	freed := make(chan struct{})
	runtime.AddCleanup(c, func(ch chan struct{}) { close(ch) }, freed)
	id, model := c.ID, c.Model
	c, body = nil, nil
	for i := 0; i < 20; i++ {
		runtime.GC()
		select {
		case <-freed:
			assert.Equal(t, "gpt-4o-mini", model)
			assert.Len(t, id, idLen)
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("the Call is still alive while only its id %q and model %q are kept", id, model)
}
