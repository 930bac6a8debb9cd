package billing

// runChild runs this test binary as the crash test's child when asked to
// and reports whether it did.
func runChild() bool { return false }
