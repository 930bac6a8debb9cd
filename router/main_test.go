package router_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain is the one TestMain of package router_test: every test in the
// package must leave no goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
