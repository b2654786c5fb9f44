package config

import (
	"maps"
	"slices"
	"strings"
)

// checkKeys reports the keys of the file that Config does not have, sorted so
// that the output is stable. get returns a key's value as read from the file.
// A typo must not pass silently: the default it leaves in force may be
// exactly what the operator meant to change.
func checkKeys(fileKeys []string, get func(string) any, ks keySet) []error {
	var errs []error
	for _, key := range slices.Sorted(slices.Values(fileKeys)) {
		if err := checkKey(key, get, ks); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func checkKey(key string, get func(string) any, ks keySet) error {
	switch {
	case ks.leaves[key]:
		return nil
	case ks.sections[key]:
		return checkSection(key, get(key))
	case underLeaf(key, ks):
		// "listen: {a: 1}": decoding listen reports the mapping, once.
		return nil
	}
	return &unknownKeyError{key: key, suggestion: suggest(key, ks)}
}

// checkSection accepts an empty section ("auth:" alone reads as null) and
// refuses a scalar or list where a mapping of keys belongs.
func checkSection(key string, val any) error {
	if val == nil {
		return nil
	}
	return &keyError{
		key:    key,
		reason: "expected a mapping of " + key + ".* keys, got " + describe(val),
		kind:   ErrInvalidValue,
	}
}

func underLeaf(key string, ks keySet) bool {
	for i := strings.IndexByte(key, '.'); i > 0; i = nextDot(key, i) {
		if ks.leaves[key[:i]] {
			return true
		}
	}
	return false
}

func nextDot(s string, i int) int {
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// suggest returns the known key closest to an unknown one: the same name in
// another section (max_connections for limits.max_connections) or a key
// within two edits. Empty when nothing is close enough to be a likely typo.
func suggest(key string, ks keySet) string {
	best, bestDist := "", 3
	for _, known := range slices.Sorted(maps.Keys(ks.leaves)) {
		d := editDistance(key, known)
		if lastName(known) == lastName(key) {
			d = min(d, 1)
		}
		if d < bestDist {
			best, bestDist = known, d
		}
	}
	return best
}

func lastName(key string) string {
	return key[strings.LastIndexByte(key, '.')+1:]
}

// editDistance is the Levenshtein distance between two short keys.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
