package redistest

import (
	"os"
	"testing"
	"time"
)

// TestProcCPUCountsThisProcess: procCPU reads a process's CPU time, here
// this test's own after ~200 ms of work.
func TestProcCPUCountsThisProcess(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	x := 0
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := after - before; d < 100*time.Millisecond || d > 10*time.Second {
		t.Fatalf("procCPU moved by %v over 200 ms of work (%d loops)", d, x)
	}
	if _, err := procCPU(1 << 30); err == nil {
		t.Fatal("procCPU of a pid that does not exist: no error")
	}
}
