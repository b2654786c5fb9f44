//go:build !race

package jwtauth

// raceEnabled: see race_on_test.go.
const raceEnabled = false
