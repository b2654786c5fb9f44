//go:build race

package main

// raceEnabled: the race detector's shadow memory and slower allocations
// change a process's RSS, so memory comparisons are made without it
// (make test runs the hand-off tests once more, plain).
const raceEnabled = true
