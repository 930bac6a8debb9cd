package main

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// The main job collects less often than Go's default, unless GOGC says
// otherwise.
func TestTuneGCKeepsAnExplicitGOGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)

	tuneGC(func(string) (string, bool) { return "50", true })
	assert.Equal(t, 100, debug.SetGCPercent(100), "GOGC set: left alone")

	tuneGC(func(string) (string, bool) { return "", false })
	assert.Equal(t, defaultGCPercent, debug.SetGCPercent(100), "GOGC unset: the main job's default")
}
