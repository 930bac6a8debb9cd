package gateway

import (
	"math/rand/v2"
	"unsafe"
)

const idLen = 29 // "call_" + 24 hex digits

// callNames holds a call's id and, when short, its model's name, apart from
// the Call: what outlives a call keeps these strings (a usage record in a
// queue, a sink's window of recent ids, a limiter's keys), and so keeps this
// small allocation alive, never the Call, its body or its contexts.
type callNames struct {
	id    [idLen]byte
	model [32]byte
}

// newID fills the call's id, in n, from 96 random bits: unique enough to key
// usage records, and not guessable from another call's id.
func (c *Call) newID(n *callNames) {
	const hex = "0123456789abcdef"
	copy(n.id[:], "call_")
	a, b := rand.Uint64(), rand.Uint32()
	for i := range 16 {
		n.id[5+i] = hex[a>>(60-4*i)&0xf]
	}
	for i := range 8 {
		n.id[21+i] = hex[b>>(28-4*i)&0xf]
	}
	c.ID = unsafe.String(&n.id[0], idLen)
}
