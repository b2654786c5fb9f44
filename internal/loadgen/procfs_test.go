package loadgen

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProcOfThisProcess(t *testing.T) {
	for _, p := range []Proc{{}, {PID: os.Getpid()}} {
		st, err := p.Status()
		if err != nil {
			t.Fatal(err)
		}
		if st.RSSBytes < 1<<20 || st.HWMBytes < st.RSSBytes || st.Threads < 1 {
			t.Fatalf("%+v: implausible %+v", p, st)
		}
		// Burn a little CPU so the counter cannot be 0.
		x := 0
		for i := range 50_000_000 {
			x += i % 7
		}
		_ = x
		cpu, err := p.CPUSeconds()
		if err != nil || cpu <= 0 {
			t.Fatalf("%+v: cpu %v, %v", p, cpu, err)
		}
	}
}

func TestParseStatWithAwkwardCommandName(t *testing.T) {
	// Field 2 may hold spaces and parentheses; utime and stime are fields
	// 14 and 15.
	line := "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 123 45 0 0 20 0 3 0 100 1000000 200\n"
	ticks, err := parseStatCPU([]byte(line))
	if err != nil || ticks != 168 {
		t.Fatalf("parseStatCPU = %d, %v; want 168", ticks, err)
	}
	if _, err := parseStatCPU([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("short line accepted")
	}
}

func TestProcRootIsInjectable(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "77")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	status := "Name:\tfanoutd\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t7\n"
	if err := os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := Proc{Root: root, PID: 77}.Status()
	if err != nil || st != (ProcStatus{RSSBytes: 10 << 20, HWMBytes: 20 << 20, Threads: 7}) {
		t.Fatalf("Status = %+v, %v", st, err)
	}
	if _, err := (Proc{Root: root, PID: 78}).Status(); err == nil {
		t.Fatal("missing process accepted")
	}
}
