// Package cputime reads the CPU time a process has used (Linux): the
// benchmarks report CPU per operation, for the test process and for the
// broker server beside it, because on a shared machine the rates alone
// move with the load; the load generator reports the daemon's and its
// own.
package cputime

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Self is this process's user and system CPU time so far.
func Self() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ClockTicks is USER_HZ, the unit of /proc's CPU times: 100 on every
// Linux ABI, and reading sysconf(_SC_CLK_TCK) would need cgo.
const ClockTicks = 100

// Process is another process's user and system CPU time so far, from
// /proc/<pid>/stat.
func Process(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	ticks, err := StatTicks(b)
	if err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ticks) * (time.Second / ClockTicks), nil
}

// StatTicks is the user and system CPU time in a /proc/<pid>/stat line
// (fields 14 and 15, added), in clock ticks (ClockTicks a second). The
// command name, field 2, is in parentheses and may hold spaces and ')',
// so fields are counted after the last ')'.
func StatTicks(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("cputime: malformed stat line")
	}
	f := bytes.Fields(b[i+1:])
	const utime = 14 - 3 // field 3 is the first after the name
	if len(f) <= utime+1 {
		return 0, errors.New("cputime: short stat line")
	}
	var ticks int64
	for _, v := range f[utime : utime+2] {
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("cputime: bad utime or stime: %w", err)
		}
		ticks += n
	}
	return ticks, nil
}
