package main

import (
	"context"
	"runtime/debug"
	"strconv"
	"sync"

	"github.com/fanoutd/fanoutd/internal/memtrim"
	"go.uber.org/zap"
)

// defaultGCPercent is the daemon's GC target when the environment sets no
// GOGC. A node's heap is mostly the state of held connections, which lives
// as long as they do; Go's default (100) lets the heap grow to twice that
// before collecting, and the pages it touched stay resident. At 50 a held,
// subscribed connection costs about a sixth less RSS, for about 6% more
// CPU per publish and nothing measurable per delivery or at idle
// (BENCHMARKS.md, "Round two"). This is the command's choice, not the
// library's: an embedding program owns its process's GC.
const defaultGCPercent = 50

// setGCPercent applies defaultGCPercent unless getenv("GOGC") is set (the
// runtime has read it then: an operator's GOGC, "off" included, wins). It
// returns the GC target in force, for the start-up log.
func setGCPercent(getenv func(string) string) string {
	if v := getenv("GOGC"); v != "" {
		return v
	}
	debug.SetGCPercent(defaultGCPercent)
	return strconv.Itoa(defaultGCPercent)
}

// startMemTrim returns the heap a burst of connects left behind to the
// system once the daemon is quiet (internal/memtrim), unless the
// environment sets GOGC: an operator who tunes the GC gets Go's own
// behaviour, and the trim goes with the default it complements.
// It reports whether it started.
func startMemTrim(ctx context.Context, bg *sync.WaitGroup, getenv func(string) string, log *zap.Logger) bool {
	if getenv("GOGC") != "" {
		return false
	}
	t := memtrim.New(memtrim.Options{Logger: log})
	bg.Go(func() { t.Run(ctx) })
	return true
}
