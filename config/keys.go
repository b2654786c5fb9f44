package config

import (
	"reflect"
	"strings"
)

// keyTag is the struct tag that names a field's configuration key. It stays
// mapstructure (viper's convention) so the tags in config.go read as
// familiar, but the names are used only by this file's walker.
const keyTag = "mapstructure"

// envPrefix starts the name of every environment variable Load reads.
const envPrefix = "FANOUTD_"

// field is one leaf of Config: a dotted key and the field that holds it.
type field struct {
	key string        // e.g. "limits.max_fragments"
	val reflect.Value // addressable when walked from a pointer
}

// fieldsOf lists the leaves of c in declaration order. The tags of Config are
// the single list of keys: defaults, env names, flag names, unknown-key
// detection and decoding are all derived from it, so adding a field needs no
// other edit here.
func fieldsOf(c *Config) []field {
	return appendFields(nil, "", reflect.ValueOf(c).Elem())
}

func appendFields(dst []field, prefix string, v reflect.Value) []field {
	t := v.Type()
	for i := range t.NumField() {
		key := prefix + t.Field(i).Tag.Get(keyTag)
		if t.Field(i).Type.Kind() == reflect.Struct {
			dst = appendFields(dst, key+".", v.Field(i))
			continue
		}
		dst = append(dst, field{key: key, val: v.Field(i)})
	}
	return dst
}

// keySet is the set of leaf keys and of the sections (auth, limits, …) that
// group them.
type keySet struct {
	leaves   map[string]bool
	sections map[string]bool
}

func knownKeys() keySet {
	ks := keySet{leaves: map[string]bool{}, sections: map[string]bool{}}
	var c Config
	for _, f := range fieldsOf(&c) {
		ks.leaves[f.key] = true
		if i := strings.LastIndexByte(f.key, '.'); i > 0 {
			ks.sections[f.key[:i]] = true
		}
	}
	return ks
}

// envName is the variable that sets key: FANOUTD_AUTH_HMAC_SECRET for
// auth.hmac_secret.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// flagName folds a flag or key name to one spelling so that --ws-path,
// --ws_path and the key ws_path meet; dots fold too, so a caller may define
// --heartbeat-interval for heartbeat.interval.
func flagName(name string) string {
	return strings.ToLower(strings.NewReplacer(".", "-", "_", "-").Replace(name))
}
