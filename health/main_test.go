package health_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain is the one TestMain of package health_test: every test in the
// package must leave no goroutine behind (the Checker's probe loops above
// all).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
