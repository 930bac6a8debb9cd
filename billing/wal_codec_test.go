package billing

import (
	"encoding/binary"
	"hash/crc32"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fullRecord sets every field of a Record, at any depth, to a distinct
// non-zero value, so a field the codec forgets shows.
func fullRecord() Record {
	var r Record
	n := 0
	var fill func(v reflect.Value)
	fill = func(v reflect.Value) {
		n++
		switch v.Kind() {
		case reflect.String:
			v.SetString("s" + string(rune('a'+n)))
		case reflect.Int, reflect.Int32, reflect.Int64:
			if v.Type() == reflect.TypeFor[time.Duration]() {
				v.SetInt(int64(n) * int64(time.Millisecond))
			} else {
				v.SetInt(int64(n) * 1001)
			}
		case reflect.Bool:
			v.SetBool(true)
		case reflect.Struct:
			if v.Type() == reflect.TypeFor[time.Time]() {
				v.Set(reflect.ValueOf(time.Date(2026, 12, 1, 13, 45, 6, 789, time.UTC)))
				return
			}
			for i := range v.NumField() {
				fill(v.Field(i))
			}
		default:
			panic("fullRecord: add a case for " + v.Kind().String())
		}
	}
	fill(reflect.ValueOf(&r).Elem())
	return r
}

func TestWALCodecRoundTripsEveryRecordField(t *testing.T) {
	for _, want := range []Record{fullRecord(), {}, testRecord(7), {CallID: "é\n\"x", Attempt: -1, Cost: -5, Time: time.Unix(-1, 5).UTC()}} {
		frame, ok := appendFrame([]byte("prefix"), &want)
		require.True(t, ok)
		var got Record
		n, err := decodeFrame(frame[len("prefix"):], &got)
		require.NoError(t, err)
		assert.Equal(t, len(frame)-len("prefix"), n)
		assert.Equal(t, want, got)
	}
}

func TestWALCodecTellsAShortFrameFromADamagedOne(t *testing.T) {
	r := testRecord(1)
	frame, _ := appendFrame(nil, &r)
	var got Record
	for cut := range len(frame) {
		_, err := decodeFrame(frame[:cut], &got)
		require.ErrorIs(t, err, errFrameShort, "cut at %d", cut)
	}
	bad := append([]byte(nil), frame...)
	bad[len(bad)-1] ^= 0xff
	n, err := decodeFrame(bad, &got)
	require.ErrorIs(t, err, errFrameBad)
	assert.Equal(t, len(frame), n, "a damaged frame with a plausible length is skipped whole")
}

func TestWALCodecRefusesARecordOverTheFrameBound(t *testing.T) {
	r := Record{CallID: string(make([]byte, maxFramePayload))}
	out, ok := appendFrame([]byte("x"), &r)
	assert.False(t, ok)
	assert.Equal(t, []byte("x"), out)
}

// FuzzDecodeFrame: whatever a damaged disk holds, decoding never panics,
// and what it accepts is a record that survives another round trip. The
// fuzzer's bytes are the payload, framed with a correct checksum (which it
// could not forge), so the decoder's field parsing is what is explored.
func FuzzDecodeFrame(f *testing.F) {
	for _, r := range []Record{fullRecord(), {}, testRecord(3)} {
		frame, _ := appendFrame(nil, &r)
		f.Add(frame[frameHeader:])
		f.Add(frame[frameHeader : len(frame)/2])
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if len(payload) > maxFramePayload {
			return
		}
		frame := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
		frame = binary.LittleEndian.AppendUint32(frame, crc32.Checksum(payload, crcTable))
		frame = append(frame, payload...)
		var r Record
		n, err := decodeFrame(frame, &r)
		if err != nil {
			return
		}
		require.Equal(t, len(frame), n)
		again, ok := appendFrame(nil, &r)
		require.True(t, ok)
		var r2 Record
		_, err = decodeFrame(again, &r2)
		require.NoError(t, err)
		require.Equal(t, r, r2)
	})
}
