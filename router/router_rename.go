package router

import (
	"io"
	"sync"

	"github.com/llmgate/gateway"
)

// renamed is the Call a target sees when the router renames the model (so
// providers and middlewares that read the model see the one sent) or when
// the target has middlewares of its own, tied to
// the caller's Call: what the target's own middlewares record on it (a Retry
// or Hedge among Target.Middlewares records attempts) is copied onto the
// caller's, each keeping the renamed model, and a Budget the router shares
// is already claimed on it, so it is credited once per call.
//
// Only the router's Budget is pre-claimed: gateway.Call has no way to list
// the other keys the caller's Call claimed, so a Budget shared by a layer
// outside the router and a target's middleware, but not by the router, is
// credited once more for each renamed dispatch.
type renamed struct {
	call, dc *gateway.Call

	mu     sync.Mutex
	copied int // dc's attempts already copied onto call
}

func newRenamed(call, dc *gateway.Call, budget any) *renamed {
	dc.ID, dc.Start, dc.Caller = call.ID, call.Start, call.Caller
	dc.Once(budget)
	return &renamed{call: call, dc: dc}
}

// sync copies onto the caller's Call the attempts recorded on dc since the
// last sync, and returns how many dc holds in all.
func (rn *renamed) sync() int {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	as := rn.dc.Attempts()
	for _, a := range as[rn.copied:] {
		rn.call.RecordAttempt(a) // renumbered in the caller's sequence
	}
	rn.copied = len(as)
	return len(as)
}

// renamedBody copies, when it is closed, the attempts the target recorded
// only then (a Hedge records its lost attempts when its winner's body
// closes). Close may be called concurrently with Read, and more than once.
type renamedBody struct {
	io.ReadCloser
	rn *renamed
}

func (b *renamedBody) Close() error {
	err := b.ReadCloser.Close()
	b.rn.sync()
	return err
}
