package billing

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/llmgate/gateway"
)

// PipelineConfig configures a Pipeline. Dir and Sinks are required; every
// other field's zero value means the default named beside it, and a
// negative value is an error.
type PipelineConfig struct {
	// Dir holds the write-ahead log, each sink's acknowledged cursor and its
	// dead-letter file. One Pipeline uses a directory at a time.
	Dir string
	// Sinks receive every record, each at its own pace: a slow or failing
	// sink never holds the others back. A name ([a-z0-9_-], up to 64) names
	// the sink's cursor and dead-letter files, so it must stay the same
	// across restarts for the sink to resume where it stopped.
	Sinks map[string]Sink

	// Buffer is how many records the in-memory buffer holds, rounded up to
	// a power of two (8192).
	Buffer int
	// BatchSize is the most records a sink is given in one Write (512).
	BatchSize int
	// FlushInterval is the longest a record waits for its batch to fill
	// before a sink is given a short one (200ms).
	FlushInterval time.Duration
	// BlockTimeout is how long Enqueue waits for room when the buffer is
	// full before it appends the record to the write-ahead log itself (10ms).
	BlockTimeout time.Duration
	// SyncInterval is the most time between a record reaching the
	// write-ahead log and the fsync that makes it survive a machine crash
	// (100ms). The first unsynced append arms the timer, so an idle
	// pipeline wakes for nothing.
	SyncInterval time.Duration
	// SegmentBytes is the size at which the write-ahead log starts a new
	// segment file; whole segments are deleted once every sink has
	// acknowledged them (8 MiB).
	SegmentBytes int64
	// MaxDiskBytes bounds the write-ahead log, and each sink's dead-letter
	// file: past it a record that finds the buffer full is refused (counted
	// as dropped, with an error) instead of filling the disk while a sink is
	// down, and a batch that would overfill a dead-letter file stays in the
	// log, offered to its sink again (1 GiB).
	MaxDiskBytes int64
	// WriteTimeout bounds one Sink.Write (10s).
	WriteTimeout time.Duration
	// RetryAttempts is how many times a batch is offered to a sink before it
	// goes to the sink's dead-letter file (10); RetryBase is the wait after
	// the first failure, doubling up to RetryMax (100ms, 10s). With the
	// defaults a batch rides out about 30 seconds of outage before it is
	// dead-lettered; raise RetryAttempts for sinks whose outages last longer.
	RetryAttempts int
	RetryBase     time.Duration
	RetryMax      time.Duration

	// Clock is the time source (nil: the system clock).
	Clock gateway.Clock
}

const (
	defaultBuffer        = 8192
	defaultBatchSize     = 512
	defaultFlushInterval = 200 * time.Millisecond
	defaultBlockTimeout  = 10 * time.Millisecond
	defaultSyncInterval  = 100 * time.Millisecond
	defaultSegmentBytes  = 8 << 20
	defaultMaxDiskBytes  = 1 << 30
	defaultWriteTimeout  = 10 * time.Second
	defaultRetryAttempts = 10
	defaultRetryBase     = 100 * time.Millisecond
	defaultRetryMax      = 10 * time.Second
)

var sinkName = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Validate reports every field that is out of range, joined.
func (c PipelineConfig) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("billing: "+format, args...)) }
	if c.Dir == "" {
		bad("PipelineConfig.Dir is required (the write-ahead log lives there)")
	}
	if len(c.Sinks) == 0 {
		bad("PipelineConfig.Sinks needs at least one sink")
	}
	for name, s := range c.Sinks {
		if !sinkName.MatchString(name) {
			bad("PipelineConfig.Sinks: name %q is not [a-z0-9_-]{1,64}", name)
		}
		if s == nil {
			bad("PipelineConfig.Sinks[%q] is nil", name)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"Buffer", int64(c.Buffer)}, {"BatchSize", int64(c.BatchSize)},
		{"FlushInterval", int64(c.FlushInterval)}, {"BlockTimeout", int64(c.BlockTimeout)},
		{"SyncInterval", int64(c.SyncInterval)}, {"SegmentBytes", c.SegmentBytes},
		{"MaxDiskBytes", c.MaxDiskBytes}, {"WriteTimeout", int64(c.WriteTimeout)},
		{"RetryAttempts", int64(c.RetryAttempts)}, {"RetryBase", int64(c.RetryBase)},
		{"RetryMax", int64(c.RetryMax)},
	} {
		if f.v < 0 {
			bad("PipelineConfig.%s is negative (%d); zero means the default", f.name, f.v)
		}
	}
	if c.Buffer > 1<<24 {
		bad("PipelineConfig.Buffer %d is over 16M records", c.Buffer)
	}
	d := c.withDefaults()
	if d.SegmentBytes > d.MaxDiskBytes/2 {
		bad("PipelineConfig.SegmentBytes %d is over half of MaxDiskBytes %d", d.SegmentBytes, d.MaxDiskBytes)
	}
	if d.RetryBase > d.RetryMax {
		bad("PipelineConfig.RetryBase %v is over RetryMax %v", d.RetryBase, d.RetryMax)
	}
	return errors.Join(errs...)
}

func (c PipelineConfig) withDefaults() PipelineConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Buffer, defaultBuffer)
	def(&c.BatchSize, defaultBatchSize)
	def(&c.RetryAttempts, defaultRetryAttempts)
	defD(&c.FlushInterval, defaultFlushInterval)
	defD(&c.BlockTimeout, defaultBlockTimeout)
	defD(&c.SyncInterval, defaultSyncInterval)
	defD(&c.WriteTimeout, defaultWriteTimeout)
	defD(&c.RetryBase, defaultRetryBase)
	defD(&c.RetryMax, defaultRetryMax)
	if c.SegmentBytes == 0 {
		c.SegmentBytes = defaultSegmentBytes
	}
	if c.MaxDiskBytes == 0 {
		c.MaxDiskBytes = defaultMaxDiskBytes
	}
	return c
}
