package daemon

import (
	"testing"

	"go.uber.org/goleak"
)

// The core starts no goroutines of its own; any left behind by a test is a
// leak in the test or in the code under test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
