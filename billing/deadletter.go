package billing

import (
	"fmt"
	"os"
)

// deadLetter is a sink's file of the batches it kept refusing: records as
// JSON lines (the JSONL sink's format, for people and tools to read and
// re-drive), appended and synced. It holds at most max bytes: past that a
// batch is refused, so the worker keeps it in the log and keeps offering it
// to the sink. It is used by its sink's worker only.
type deadLetter struct {
	path string
	max  int64
	buf  []byte
}

func (d *deadLetter) write(batch []Record) error {
	d.buf = d.buf[:0]
	for i := range batch {
		var err error
		if d.buf, err = encodeLine(d.buf, &batch[i]); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(d.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("billing: dead-letter file: %w", err)
	}
	fi, err := f.Stat()
	if err == nil && fi.Size()+int64(len(d.buf)) > d.max {
		err = fmt.Errorf("%s is at its bound of %d bytes (PipelineConfig.MaxDiskBytes)", d.path, d.max)
	}
	if err == nil {
		if _, err = f.Write(d.buf); err != nil {
			_ = f.Truncate(fi.Size()) // no partial line for a reader to trip on
		} else {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("billing: dead-letter file: %w", err)
	}
	return nil
}
