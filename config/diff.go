package config

import "reflect"

// Changed lists the keys whose values differ between a and b, in
// declaration order: what a reload would change. It names keys only, never
// values, so the list may be logged even when a secret changed.
func Changed(a, b Config) []string {
	fa, fb := fieldsOf(&a), fieldsOf(&b)
	var keys []string
	for i := range fa {
		if !reflect.DeepEqual(fa[i].val.Interface(), fb[i].val.Interface()) {
			keys = append(keys, fa[i].key)
		}
	}
	return keys
}
