package gateway

import (
	"math/rand/v2"
	"unsafe"
)

const idLen = 29 // "call_" + 24 hex digits

// newID fills the call's id from 96 random bits: unique enough to key usage
// records, and not guessable from another call's id.
func (c *Call) newID() {
	const hex = "0123456789abcdef"
	copy(c.idBuf[:], "call_")
	a, b := rand.Uint64(), rand.Uint32()
	for i := range 16 {
		c.idBuf[5+i] = hex[a>>(60-4*i)&0xf]
	}
	for i := range 8 {
		c.idBuf[21+i] = hex[b>>(28-4*i)&0xf]
	}
	c.ID = unsafe.String(&c.idBuf[0], idLen)
}
