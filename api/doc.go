// Package api holds the machine-readable description of fanoutd's HTTP API:
// openapi.yaml, an OpenAPI 3.1 document of every route of the publish API
// (Unix socket and TCP) and of the operator routes on the TCP listener. It
// is embedded in the binary so that the daemon serves exactly the document
// it was built with, at GET /v1/openapi.yaml.
//
// The package has no state and imports nothing of the module: the
// composition root passes OpenAPI() to ipc.Options, so ipc does not import
// it either.
//
// The contract test (openapi_test.go in the root package) keeps the document
// true: it fails when a route, a status code or a response field exists on
// one side only. Adding a route means adding its path here and a case to
// that test's table.
package api
