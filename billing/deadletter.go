package billing

import (
	"fmt"
	"os"
)

// deadLetter is a sink's file of the batches it kept refusing: records in
// the write-ahead log's format, one JSON line each, appended and synced. It
// is used by its sink's worker only.
type deadLetter struct {
	path string
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
