package loadgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/fanoutd/fanoutd/internal/cputime"
)

// Proc reads one process's counters from a procfs mounted at Root
// ("/proc"; tests may point elsewhere). PID 0 means the calling process.
type Proc struct {
	Root string
	PID  int
}

// ProcStatus is what the report needs from /proc/PID/status.
type ProcStatus struct {
	RSSBytes int64 // VmRSS
	HWMBytes int64 // VmHWM, the peak RSS
	Threads  int
}

func (p Proc) path(name string) string {
	root := p.Root
	if root == "" {
		root = "/proc"
	}
	pid := "self"
	if p.PID > 0 {
		pid = strconv.Itoa(p.PID)
	}
	return filepath.Join(root, pid, name)
}

// Status reads VmRSS, VmHWM and Threads.
func (p Proc) Status() (ProcStatus, error) {
	b, err := os.ReadFile(p.path("status"))
	if err != nil {
		return ProcStatus{}, fmt.Errorf("read process status: %w", err)
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (ProcStatus, error) {
	var s ProcStatus
	found := 0
	for line := range bytes.Lines(b) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		f := bytes.Fields(value)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			continue
		}
		switch string(name) {
		case "VmRSS":
			s.RSSBytes, found = n*1024, found+1
		case "VmHWM":
			s.HWMBytes = n * 1024
		case "Threads":
			s.Threads, found = int(n), found+1
		}
	}
	if found < 2 {
		return s, fmt.Errorf("%w: VmRSS or Threads missing in status", ErrProcfs)
	}
	return s, nil
}

// CPUSeconds is utime+stime from /proc/PID/stat.
func (p Proc) CPUSeconds() (float64, error) {
	b, err := os.ReadFile(p.path("stat"))
	if err != nil {
		return 0, fmt.Errorf("read process stat: %w", err)
	}
	ticks, err := parseStatCPU(b)
	return float64(ticks) / cputime.ClockTicks, err
}

// parseStatCPU returns fields 14 (utime) and 15 (stime) of a stat line,
// added, in clock ticks.
func parseStatCPU(b []byte) (int64, error) {
	ticks, err := cputime.StatTicks(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrProcfs, err)
	}
	return ticks, nil
}
