package api

import (
	_ "embed"
	"slices"
)

//go:embed openapi.yaml
var openapi []byte

// OpenAPI returns the OpenAPI 3.1 document, as YAML. The slice is the
// caller's: it is a copy, so nothing can change what another daemon in the
// process serves.
func OpenAPI() []byte { return slices.Clone(openapi) }
