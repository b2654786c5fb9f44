package main

import (
	"runtime/debug"
	"strconv"
)

// defaultGCPercent is the daemon's GC target when the environment sets no
// GOGC. A node's heap is mostly the state of held connections, which lives
// as long as they do; Go's default (100) lets the heap grow to twice that
// before collecting, and the pages it touched stay resident. At 50 a held,
// subscribed connection costs about a sixth less RSS, and the extra
// collections cost nothing measurable per connection, per delivery, at
// idle or per publish (BENCHMARKS.md, "Round two"). This is the command's
// choice, not the library's: an embedding program owns its process's GC.
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
