package config

import (
	"maps"
	"slices"
	"strings"
)

// UnknownEnvironment reports each FANOUTD_* variable of environ (nil means
// os.Environ()) that names no key, sorted, once each, with the closest key's
// variable when one is within two edits. Load ignores such variables, as
// it must (the process may inherit others' variables), so a misspelt
// FANOUTD_AUTH_HMACSECRET would otherwise leave the default in force in
// silence. The errors wrap ErrUnknownKey; callers print them as warnings:
// check-config and the daemon at start.
func UnknownEnvironment(environ []string) []error {
	ks := knownKeys()
	names := map[string]string{} // variable -> key
	for key := range ks.leaves {
		names[envName(key)] = key
	}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(envMap(environ))) {
		if _, ok := names[name]; !ok && !slices.Contains(processVariables, name) {
			errs = append(errs, &unknownEnvError{name: name, suggestion: suggestEnv(name, names)})
		}
	}
	return errs
}

// processVariables are FANOUTD_* variables that are not configuration:
// the daemon sets them for a process it starts (an upgrade's new process
// finds its hand-off socket in FANOUTD_HANDOFF_FD, package handoff).
var processVariables = []string{"FANOUTD_HANDOFF_FD"}

func suggestEnv(name string, names map[string]string) string {
	best, bestDist := "", 3
	for _, known := range slices.Sorted(maps.Keys(names)) {
		if d := editDistance(name, known); d < bestDist {
			best, bestDist = known, d
		}
	}
	return best
}

// unknownEnvError is a FANOUTD_* variable that names no key.
type unknownEnvError struct {
	name       string
	suggestion string
}

func (e *unknownEnvError) Error() string {
	var b strings.Builder
	b.WriteString(e.name + " names no configuration key")
	if e.suggestion != "" {
		b.WriteString(" (did you mean " + e.suggestion + "?)")
	}
	return b.String()
}

func (e *unknownEnvError) Unwrap() error { return ErrUnknownKey }
