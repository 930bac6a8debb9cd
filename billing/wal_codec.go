package billing

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"

	"github.com/llmgate/gateway"
)

// The write-ahead log's frame: a 4-byte little-endian payload length, the
// payload's CRC-32C, and the payload: a format version, then every Record
// field in declaration order (strings and integers as varints, the time as
// Unix seconds and nanoseconds). It is binary because the writer encodes
// every record and a sink that fell behind decodes it: JSON was most of the
// pipeline's CPU. TestWALCodecRoundTripsEveryRecordField fails when a
// Record field is added without a place here.
const (
	frameHeader     = 8
	frameVersion    = 1
	maxFramePayload = walReadChunk - frameHeader
)

var (
	crcTable      = crc32.MakeTable(crc32.Castagnoli)
	errFrameShort = errors.New("billing: write-ahead frame continues past the data")
	errFrameBad   = errors.New("billing: write-ahead frame is damaged")
)

// appendFrame appends r's frame to dst, or returns dst unchanged and false
// for a record over the frame's bound (strings of a megabyte: no record the
// Meter makes).
func appendFrame(dst []byte, r *Record) ([]byte, bool) {
	at := len(dst)
	dst = append(dst, make([]byte, frameHeader)...)
	dst = append(dst, frameVersion)
	dst = appendString(dst, r.CallID)
	dst = binary.AppendVarint(dst, int64(r.Attempt))
	dst = binary.AppendVarint(dst, r.Time.Unix())
	dst = binary.AppendUvarint(dst, uint64(r.Time.Nanosecond()))
	for _, s := range [...]string{r.KeyID, r.Tenant, r.Target, r.ModelAsked, r.ModelServed} {
		dst = appendString(dst, s)
	}
	u := &r.Usage
	for _, n := range [...]int{u.PromptTokens, u.CompletionTokens, u.CachedTokens, u.CacheWriteTokens, u.CacheWrite1hTokens, u.ReasoningTokens} {
		dst = binary.AppendVarint(dst, int64(n))
	}
	dst = appendBool(dst, u.Estimated)
	dst = appendString(dst, r.Outcome)
	dst = binary.AppendVarint(dst, int64(r.Status))
	dst = binary.AppendVarint(dst, int64(r.Latency))
	dst = binary.AppendVarint(dst, int64(r.TTFT))
	dst = appendBool(dst, r.Stream)
	dst = binary.AppendVarint(dst, r.Cost)
	dst = appendBool(dst, r.CostKnown)
	payload := dst[at+frameHeader:]
	if len(payload) > maxFramePayload {
		return dst[:at], false
	}
	binary.LittleEndian.PutUint32(dst[at:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(dst[at+4:], crc32.Checksum(payload, crcTable))
	return dst, true
}

func appendString(dst []byte, s string) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(s))), s...)
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, 1)
	}
	return append(dst, 0)
}

// decodeFrame decodes the frame at the start of b into r and returns its
// length. errFrameShort: b holds only part of it. errFrameBad: its checksum
// or contents are wrong; n is then its length if that is plausible (the
// reader skips it), else 0.
func decodeFrame(b []byte, r *Record) (n int, err error) {
	if len(b) < frameHeader {
		return 0, errFrameShort
	}
	size := binary.LittleEndian.Uint32(b)
	if size > maxFramePayload {
		return 0, errFrameBad
	}
	n = frameHeader + int(size)
	if len(b) < n {
		return 0, errFrameShort
	}
	payload := b[frameHeader:n]
	if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
		return n, errFrameBad
	}
	d := decoder{b: payload}
	if d.byte() != frameVersion {
		return n, errFrameBad
	}
	*r = Record{}
	r.CallID = d.string()
	r.Attempt = d.int()
	sec, nsec := d.varint(), d.uvarint()
	r.Time = time.Unix(sec, int64(nsec%1e9)).UTC()
	r.KeyID, r.Tenant, r.Target, r.ModelAsked, r.ModelServed = d.string(), d.string(), d.string(), d.string(), d.string()
	r.Usage = gateway.Usage{
		PromptTokens: d.int(), CompletionTokens: d.int(), CachedTokens: d.int(),
		CacheWriteTokens: d.int(), CacheWrite1hTokens: d.int(), ReasoningTokens: d.int(),
		Estimated: d.bool(),
	}
	r.Outcome = d.string()
	r.Status = d.int()
	r.Latency = time.Duration(d.varint())
	r.TTFT = time.Duration(d.varint())
	r.Stream = d.bool()
	r.Cost = d.varint()
	r.CostKnown = d.bool()
	if d.bad || len(d.b) != 0 {
		return n, errFrameBad
	}
	return n, nil
}

// decoder reads a payload; a read past its end sets bad.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool() bool { return d.byte() == 1 }

func (d *decoder) varint() int64 {
	v, k := binary.Varint(d.b)
	if k <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) int() int {
	v := d.varint()
	if v > math.MaxInt || v < math.MinInt {
		d.bad = true
	}
	return int(v)
}

func (d *decoder) uvarint() uint64 {
	v, k := binary.Uvarint(d.b)
	if k <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[k:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
