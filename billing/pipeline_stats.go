package billing

import (
	"maps"
	"slices"
)

// Stats counts what the pipeline did since it started. Every record
// Enqueue was given is counted in Enqueued, Dropped or Rejected, so a drop
// is never silent; every record logged reaches each sink as Written or
// DeadLettered, or stays in the log for the next start.
type Stats struct {
	Enqueued uint64 // accepted: buffered, or spilled to the log
	Blocked  uint64 // Enqueue calls that found the buffer full and waited
	Spilled  uint64 // of Enqueued, appended to the log by Enqueue itself after BlockTimeout
	// Dropped counts records lost: refused with ErrDropped (the log could
	// not take them), or accepted but never logged because the log kept
	// failing until Close's context ended. Either way they were counted.
	Dropped  uint64
	Rejected uint64 // refused with ErrClosed: Enqueue after Close
	Logged   uint64 // appended to the log by the writer (Enqueued - Spilled once drained)

	LogErrors uint64 // failed appends and timed fsyncs of the log (each retried)
	LogBytes  int64  // the log's size on disk now

	Sinks map[string]SinkStats
}

// SinkStats counts one sink's deliveries.
type SinkStats struct {
	Written      uint64 // records the sink acknowledged
	Batches      uint64 // successful Writes
	Retries      uint64 // failed Writes retried
	DeadLettered uint64 // records put in the sink's dead-letter file
	FromLog      uint64 // records read back from the log (replay, catching up, spills)
	Corrupt      uint64 // unreadable log lines skipped (the torn tail of a crash)
	LastError    string // the sink's last error, "" if none
}

// Stats returns the counters now. It is safe for concurrent use; the
// counters are read one by one, so under load they are not one snapshot.
func (p *Pipeline) Stats() Stats {
	s := Stats{
		Enqueued:  p.ring.pushed() + p.overflowed.Load() + p.spilled.Load(),
		Blocked:   p.blocked.Load(),
		Spilled:   p.spilled.Load(),
		Dropped:   p.dropped.Load(),
		Rejected:  p.rejected.Load(),
		Logged:    p.logged.Load(),
		LogErrors: p.walErrors.Load(),
		LogBytes:  p.wal.bytes(),
		Sinks:     make(map[string]SinkStats, len(p.sinks)),
	}
	for _, w := range p.sinks {
		ss := SinkStats{
			Written:      w.written.Load(),
			Batches:      w.batches.Load(),
			Retries:      w.retries.Load(),
			DeadLettered: w.deadLettered.Load(),
			FromLog:      w.fromLog.Load(),
			Corrupt:      w.corrupt.Load(),
		}
		if e := w.lastErr.Load(); e != nil {
			ss.LastError = *e
		}
		s.Sinks[w.name] = ss
	}
	return s
}

func sortedNames(m map[string]Sink) []string { return slices.Sorted(maps.Keys(m)) }
