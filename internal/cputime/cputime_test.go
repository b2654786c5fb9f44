package cputime

import (
	"os"
	"testing"
	"time"
)

// TestProcessAndSelfCountThisProcess: both readings move with ~200 ms of
// this process's work, and agree within the ticks' resolution.
func TestProcessAndSelfCountThisProcess(t *testing.T) {
	p0, err := Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	s0 := Self()
	x := 0
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		x++
	}
	p1, err := Process(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	s1 := Self()
	dp, ds := p1-p0, s1-s0
	if dp < 100*time.Millisecond || ds < 100*time.Millisecond || dp > 10*time.Second {
		t.Fatalf("over 200 ms of work (%d loops): /proc moved %v, getrusage %v", x, dp, ds)
	}
	if diff := dp - ds; diff > 50*time.Millisecond || diff < -50*time.Millisecond {
		t.Fatalf("/proc says %v, getrusage %v", dp, ds)
	}
}

func TestProcessOfNoProcess(t *testing.T) {
	if _, err := Process(1 << 30); err == nil {
		t.Fatal("no error for a pid that does not exist")
	}
}
