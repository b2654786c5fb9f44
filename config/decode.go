package config

import (
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// setValue converts raw, as viper hands it back (a YAML scalar, a string from
// the environment or a flag, or a default of the field's own type), and
// stores it in dst. It plays the part of a mapstructure decode hook, but
// strictly: a YAML number is not silently turned into a secret string, and a
// duration without a unit is refused instead of becoming nanoseconds.
//
// Error text may quote the value for typed keys; it never does for string
// keys, because the secrets are strings.
func setValue(dst reflect.Value, raw any) error {
	if raw == nil {
		// Only a key under a section that the file set to a scalar or a
		// list reads as nil (null values fall back to the default): the
		// section is reported once, the key keeps its default.
		return nil
	}
	if reflect.TypeOf(raw) == dst.Type() {
		dst.Set(reflect.ValueOf(raw))
		return nil
	}
	switch {
	case dst.Type() == reflect.TypeFor[time.Duration]():
		return store(dst, raw, toDuration)
	case dst.Type() == reflect.TypeFor[os.FileMode]():
		return store(dst, raw, toFileMode)
	case dst.Kind() == reflect.Int:
		return store(dst, raw, toInt)
	case dst.Kind() == reflect.Bool:
		return store(dst, raw, toBool)
	case dst.Kind() == reflect.String:
		return store(dst, raw, toString)
	case dst.Type() == reflect.TypeFor[[]string]():
		return store(dst, raw, toStrings)
	case dst.Type() == reflect.TypeFor[[]int]():
		return store(dst, raw, toInts)
	case dst.Type() == reflect.TypeFor[[]ChannelClass]():
		return store(dst, raw, toChannelClasses)
	case dst.Type() == reflect.TypeFor[[]HMACSecret]():
		return store(dst, raw, toHMACSecrets)
	case dst.Type() == reflect.TypeFor[time.Time]():
		return store(dst, raw, toTime)
	}
	// Only reachable when a field of a new type is added to Config without
	// teaching this switch; TestEveryFieldDecodes catches it.
	return fmt.Errorf("unsupported field type %s", dst.Type())
}

func store[T any](dst reflect.Value, raw any, conv func(any) (T, error)) error {
	v, err := conv(raw)
	if err != nil {
		return err
	}
	dst.Set(reflect.ValueOf(v).Convert(dst.Type()))
	return nil
}

func toString(raw any) (string, error) {
	if s, ok := raw.(string); ok {
		return s, nil
	}
	// YAML reads 0123… as octal and 1e3 as a float: converting back would
	// not give what was written. Not echoing the value keeps secrets out.
	return "", fmt.Errorf("expected a string, got %s (quote the value)", describe(raw))
}

func toBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return false, fmt.Errorf("not a boolean: %q (want true or false)", v)
		}
		return b, nil
	}
	return false, fmt.Errorf("expected true or false, got %s", describe(raw))
}

func toInt(raw any) (int, error) {
	rv := reflect.ValueOf(raw)
	switch {
	case rv.CanInt():
		return intFrom(rv.Int(), raw)
	case rv.CanUint() && rv.Uint() <= math.MaxInt64:
		return intFrom(int64(rv.Uint()), raw)
	case rv.CanFloat() && rv.Float() == math.Trunc(rv.Float()) && math.Abs(rv.Float()) < 1<<53:
		return intFrom(int64(rv.Float()), raw)
	case rv.Kind() == reflect.String:
		n, err := strconv.ParseInt(strings.TrimSpace(rv.String()), 10, 0)
		if err != nil {
			return 0, fmt.Errorf("not an integer: %q", rv.String())
		}
		return int(n), nil
	}
	return 0, fmt.Errorf("expected an integer, got %s", describeValue(raw))
}

func intFrom(n int64, raw any) (int, error) {
	if int64(int(n)) != n {
		return 0, fmt.Errorf("integer out of range: %v", raw)
	}
	return int(n), nil
}

func toDuration(raw any) (time.Duration, error) {
	s, ok := raw.(string)
	if !ok {
		return 0, fmt.Errorf("a duration needs a unit, e.g. \"30s\" (got %s)", describeValue(raw))
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. \"30s\")", s)
	}
	return d, nil
}

// toFileMode reads a string as octal, like chmod, whether or not it starts
// with 0 or 0o. A YAML number is taken as is: YAML already reads an unquoted
// 0660 as octal, and a decimal 660 is caught by Validate's range check.
func toFileMode(raw any) (os.FileMode, error) {
	if s, ok := raw.(string); ok {
		digits := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "0o"), "0O")
		m, err := strconv.ParseUint(digits, 8, 32)
		if err != nil {
			return 0, fmt.Errorf("not an octal mode: %q (want e.g. \"0660\")", s)
		}
		return os.FileMode(m), nil
	}
	n, err := toInt(raw)
	if err != nil || n < 0 || n > math.MaxUint32 {
		return 0, fmt.Errorf("expected an octal mode such as \"0660\", got %s", describeValue(raw))
	}
	return os.FileMode(n), nil
}

// describe names the YAML kind of raw without showing it.
func describe(raw any) string {
	rv := reflect.ValueOf(raw)
	switch {
	case !rv.IsValid():
		return "null"
	case rv.Kind() == reflect.Map:
		return "a mapping"
	case rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array:
		return "a list"
	case rv.Kind() == reflect.Bool:
		return "a boolean"
	case rv.CanInt() || rv.CanUint() || rv.CanFloat():
		return "a number"
	case rv.Kind() == reflect.String:
		return "a string"
	}
	return rv.Type().String()
}

// describeValue shows a scalar (for non-secret keys) and only the kind of
// anything larger, which would otherwise print a whole YAML subtree.
func describeValue(raw any) string {
	switch describe(raw) {
	case "a number", "a boolean":
		return fmt.Sprint(raw)
	case "a string":
		return strconv.Quote(raw.(string))
	}
	return describe(raw)
}

// toStrings accepts a YAML list of strings, or one string of comma-separated
// items (the environment's and a flag's form). Items are trimmed; empty ones
// are dropped.
func toStrings(raw any) ([]string, error) {
	switch x := raw.(type) {
	case string:
		var out []string
		for item := range strings.SplitSeq(x, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		return out, nil
	case []any:
		if len(x) == 0 {
			return nil, nil // [] is the default, as from the environment
		}
		out := make([]string, 0, len(x))
		for i, item := range x {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("item %d: expected a string, got %s", i, describe(item))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected a list of strings, got %s", describe(raw))
}

// toInts accepts a YAML list of integers, or comma-separated integers.
func toInts(raw any) ([]int, error) {
	var items []any
	switch x := raw.(type) {
	case string:
		for item := range strings.SplitSeq(x, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
	case []any:
		items = x
	default:
		return nil, fmt.Errorf("expected a list of integers, got %s", describe(raw))
	}
	out := make([]int, 0, len(items))
	for i, item := range items {
		n, err := toInt(item)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		out = append(out, n)
	}
	return out, nil
}
