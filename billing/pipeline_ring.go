package billing

import (
	"runtime"
	"sync/atomic"
)

// ring is the pipeline's in-memory buffer: a bounded multi-producer,
// single-consumer queue of Records (Vyukov's bounded queue). A producer
// claims a slot with one CAS on the tail and publishes it by storing the
// slot's sequence, so Enqueue takes no lock and allocates nothing; the one
// consumer (the pipeline's writer) takes slots in order.
//
// The tail's top bit is the closed bit: once shut sets it no push succeeds,
// and every push that did succeed claimed its slot before, so the consumer's
// last drain sees every record accepted.
type ring struct {
	// Read-only after newRing, on a line of their own: neither the tail's
	// CASes nor the head's moves invalidate what every push reads.
	mask  uint64
	slots []slot
	_     [64 - 32]byte
	tail  atomic.Uint64
	_     [56]byte
	head  uint64 // the consumer's; producers see it only through slot seqs
	_     [56]byte
}

type slot struct {
	seq atomic.Uint64
	rec Record
}

const closedBit = 1 << 63

func newRing(size int) *ring {
	n := 1
	for n < size {
		n <<= 1
	}
	r := &ring{mask: uint64(n - 1), slots: make([]slot, n)}
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
	}
	return r
}

// pushResult says what push did.
type pushResult uint8

const (
	pushed pushResult = iota
	ringFull
	ringClosed
)

// push copies rec into the ring unless it is full or shut.
func (r *ring) push(rec *Record) pushResult {
	for {
		pos := r.tail.Load()
		if pos&closedBit != 0 {
			return ringClosed
		}
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch {
		case seq == pos:
			if r.tail.CompareAndSwap(pos, pos+1) {
				s.rec = *rec
				s.seq.Store(pos + 1)
				return pushed
			}
		case seq < pos:
			return ringFull // the slot still holds a record from a lap ago
		}
		// another producer claimed pos first: look again
	}
}

// pushed returns how many records were ever pushed.
func (r *ring) pushed() uint64 { return r.tail.Load() &^ closedBit }

// shut sets the closed bit and returns the final tail.
func (r *ring) shut() uint64 {
	for {
		pos := r.tail.Load()
		if pos&closedBit != 0 {
			return pos &^ closedBit
		}
		if r.tail.CompareAndSwap(pos, pos|closedBit) {
			return pos
		}
	}
}

// pending reports whether a record is published at the head.
func (r *ring) pending() bool {
	return r.slots[r.head&r.mask].seq.Load() == r.head+1
}

// drain appends up to max published records to dst, oldest first, and
// frees their slots. Only the consumer calls it.
func (r *ring) drain(dst []Record, max int) []Record {
	for range max {
		s := &r.slots[r.head&r.mask]
		if s.seq.Load() != r.head+1 {
			break
		}
		dst = append(dst, s.rec)

		s.seq.Store(r.head + r.mask + 1)
		r.head++
	}
	return dst
}

// drainTo drains until the head reaches end (the tail shut returned),
// waiting for producers that claimed a slot and have not yet published it:
// they are between two instructions, so the wait is a few yields.
func (r *ring) drainTo(dst []Record, end uint64, max int) []Record {
	for r.head < end && max > 0 {
		before := len(dst)
		dst = r.drain(dst, min(max, int(end-r.head)))
		max -= len(dst) - before
		if len(dst) == before {
			runtime.Gosched()
		}
	}
	return dst
}
