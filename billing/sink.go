package billing

import "context"

// A Sink stores batches of records durably. Write returns nil only once
// every record of the batch is stored; it may be called again with records
// it already stored (after a crash, a timeout or a retry) and must store each
// (CallID, Attempt) once. Write must honour ctx.
//
// A Sink is called by one goroutine of the pipeline at a time; it need not
// be safe for concurrent use unless it is shared.
type Sink interface {
	Write(ctx context.Context, batch []Record) error
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(ctx context.Context, batch []Record) error

// Write calls f(ctx, batch).
func (f SinkFunc) Write(ctx context.Context, batch []Record) error { return f(ctx, batch) }

// A Recorder takes records off the request path: the Meter hands each record
// to one, by value (a pointer through an interface would escape to the heap
// on every call). Enqueue is safe for concurrent use and never drops a record silently: it returns an error
// only for a record it could neither queue nor spill, and that is counted.
// The Pipeline is the Recorder that feeds Sinks.
type Recorder interface {
	Enqueue(r Record) error
}
