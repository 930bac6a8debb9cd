package clock

import (
	"sync"
	"time"
)

// Deadlines calls Expirers at deadlines, for many calls at once, with one
// timer for all of them. A timer per call (time.AfterFunc) cost every
// call a wakeup of an idle thread whenever the new timer was the earliest
// of its processor, and that showed on a call's path; here a call adds and
// removes a list entry, and the timer is set only when the earliest
// deadline comes sooner than the one it is set for. Deadlines a call sets
// at a fixed distance from now arrive in order, so an Add is a link at the
// tail.
//
// On the system clock the timer stays set while no deadline is pending, and
// fires once for nothing; on any other clock (a test's fake, whose timer
// holds a goroutine) it is stopped as soon as none is.
//
// The zero value is not usable: call NewDeadlines. It is safe for
// concurrent use; Expire runs in the timer's goroutine, outside its lock,
// so it must not block.
type Deadlines struct {
	clock  Clock
	system bool

	mu         sync.Mutex
	head, tail *Deadline
	armed      time.Time   // when the timer fires; zero when none is set
	stop       func() bool // the timer's stop
	gen        uint64      // the timer's; a stopped timer's late call changes nothing
}

// Expirer is what a Deadline calls when it passes. A call's own state
// (a pointer) implements it, so that adding a deadline allocates nothing,
// where a method value passed as a func is an allocation per call.
type Expirer interface{ Expire() }

// Func is a function as an Expirer.
type Func func()

// Expire calls f.
func (f Func) Expire() { f() }

// Deadline is one pending call of Deadlines; its zero value is ready for
// Add. It must not be copied once added.
type Deadline struct {
	when       time.Time
	f          Expirer
	prev, next *Deadline
	pending    bool
}

// NewDeadlines returns an empty Deadlines on c (nil means the system clock).
func NewDeadlines(c Clock) *Deadlines {
	c = Or(c)
	_, system := c.(System)
	return &Deadlines{clock: c, system: system}
}

// Add arranges for f's Expire to be called once the clock reaches when,
// unless e is removed first. e must not be pending already.
func (d *Deadlines) Add(e *Deadline, when time.Time, f Expirer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e.when, e.f, e.pending = when, f, true
	// Insert in order, searching from the tail, where most entries go.
	at := d.tail
	for at != nil && at.when.After(when) {
		at = at.prev
	}
	e.prev = at
	if at == nil {
		e.next, d.head = d.head, e
	} else {
		e.next, at.next = at.next, e
	}
	if e.next == nil {
		d.tail = e
	} else {
		e.next.prev = e
	}
	if d.stop == nil || when.Before(d.armed) {
		d.armLocked(when)
	}
}

// Remove takes e out and reports whether it did: false when its function
// has been called or is about to be, or e was not pending.
func (d *Deadlines) Remove(e *Deadline) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !e.pending {
		return false
	}
	d.unlinkLocked(e)
	if d.head == nil && !d.system {
		d.disarmLocked()
	}
	return true
}

// Len returns how many deadlines are pending.
func (d *Deadlines) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for e := d.head; e != nil; e = e.next {
		n++
	}
	return n
}

func (d *Deadlines) unlinkLocked(e *Deadline) {
	if e.prev == nil {
		d.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		d.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next, e.pending = nil, nil, false
}

func (d *Deadlines) armLocked(when time.Time) {
	d.disarmLocked()
	d.gen++
	gen := d.gen
	d.armed = when
	d.stop = AfterFunc(d.clock, when.Sub(d.clock.Now()), func() { d.fire(gen) })
}

func (d *Deadlines) disarmLocked() {
	if d.stop != nil {
		d.stop()
		d.stop, d.armed = nil, time.Time{}
		d.gen++
	}
}

// fire calls the Expirers whose deadline has passed and sets the timer
// for the next one.
func (d *Deadlines) fire(gen uint64) {
	now := d.clock.Now()
	var due []*Deadline
	d.mu.Lock()
	if gen == d.gen {
		d.stop, d.armed = nil, time.Time{}
	}
	for d.head != nil && !d.head.when.After(now) {
		e := d.head
		d.unlinkLocked(e)
		due = append(due, e)
	}
	if d.head != nil && d.stop == nil {
		d.armLocked(d.head.when)
	}
	d.mu.Unlock()
	for _, e := range due {
		e.f.Expire()
	}
}
