package limiter

import (
	"sync/atomic"

	"github.com/llmgate/gateway"
)

// held is what one rule took for a call.
type held struct {
	c   *compiled
	e   *entry
	n   int64 // units taken
	end int64 // a quota's period end
}

// hold is what a call holds of a Limiter's rules until it ends: released
// exactly once, settled to the call's usage.
type hold struct {
	l      *Limiter
	call   *gateway.Call
	target string // the Target middleware's target; "" in Middleware
	items  [4]held
	n      int
	more   []held
	done   atomic.Bool
}

func (h *hold) add(x held) {
	if h.n < len(h.items) {
		h.items[h.n] = x
		h.n++
		return
	}
	h.more = append(h.more, x)
}

func (h *hold) each(fn func(*held)) {
	for i := 0; i < h.n; i++ {
		fn(&h.items[i])
	}
	for i := range h.more {
		fn(&h.more[i])
	}
}

func (h *hold) reset() { h.n, h.more = 0, h.more[:0] }

// giveBack returns everything taken so far: a later rule refused the call.
func (h *hold) giveBack() {
	h.each(func(x *held) { h.l.adjust(x, -x.n) })
	h.reset()
}

// settles reports whether anything is left to do when the call ends: a
// request bucket's take is final once admitted.
func (h *hold) settles() bool {
	found := false
	h.each(func(x *held) { found = found || x.c.Unit != Requests || x.c.quota })
	return found
}

// end settles the call's holds when it has ended (hooks.OnEnd): token
// reservations to the usage recorded (refunded whole when none was: the
// call failed or was cancelled before any), concurrency places released, a
// request quota given back for a call that did not succeed. At a target,
// an attempt that was not the one served is settled to its prompt.
func (h *hold) end() {
	u, ok := h.call.Usage()
	status, _ := h.call.Result()
	used := int64(u.PromptTokens + u.CompletionTokens)
	if h.target != "" {
		if served, _ := h.call.Served(); served != h.target {
			used, ok = int64(h.call.PromptTokens), true
		}
	}
	h.finish(ok, used, status/100 != 2)
}

// finish releases the holds once: a call whose tokens are known (used)
// settles to them; one that failed gives back its request quota.
func (h *hold) finish(known bool, used int64, failed bool) {
	if !h.done.CompareAndSwap(false, true) {
		return
	}
	h.each(func(x *held) {
		switch {
		case x.c.Unit == Concurrent:
			h.l.adjust(x, -1)
		case x.c.Unit == Tokens && known:
			h.l.adjust(x, used-x.n)
		case x.c.Unit == Tokens:
			h.l.adjust(x, -x.n)
		case x.c.quota && failed:
			h.l.adjust(x, -x.n)
		}
	})
}

// adjust changes what x holds by d units: negative gives back, positive
// takes more (a call that used more than it reserved; it may put the limit
// in debt, which later calls wait out).
func (l *Limiter) adjust(x *held, d int64) {
	if d == 0 {
		return
	}
	e := x.e
	switch {
	case e.ls != nil:
		e.ls.adjust(d)
		if d < 0 {
			l.shared.trim(x.c, e.ls)
		}
	case e.b != nil:
		if d < 0 {
			e.b.give(-d)
		} else {
			now, _ := l.now()
			e.b.force(now, d)
		}
	case e.g != nil:
		e.g.n.Add(d)
	case e.q != nil:
		e.q.adjust(x.end, d)
	}
}
