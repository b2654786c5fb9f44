//go:build race

package jwtauth

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, so the allocation tests of pooled paths do not hold there.
const raceEnabled = true
