package ipc

import "errors"

// ErrSocketInUse is returned by ListenUnix when a socket already exists at
// the path and a process accepts connections on it: a live daemon owns the
// path and ListenUnix never takes it over. The composition root should report
// it and exit rather than retry.
var ErrSocketInUse = errors.New("ipc: socket in use by a live process")

// ErrNotSocket is returned by ListenUnix when something other than a Unix
// socket (a regular file, a directory, a symlink) exists at the path. The
// file is left untouched: it may be someone's data, and a typo in the
// configuration must not delete it.
var ErrNotSocket = errors.New("ipc: path exists and is not a socket")

// ErrUnknownGroup is returned by ListenUnixWith when ListenUnixOptions.Group
// is neither a known group name nor a numeric gid; the error names the
// group. Nothing is created in that case.
var ErrUnknownGroup = errors.New("ipc: unknown socket group")

// ErrInvalidPayload is returned by Client.Publish when the payload is a
// []byte or json.RawMessage that is not valid JSON, or a value that
// encoding/json cannot marshal. Nothing is sent in that case.
var ErrInvalidPayload = errors.New("ipc: payload is not valid JSON")

// The decoder's errors stay unexported: the handler maps them to responses
// and callers outside the package only ever see HTTP status codes.
var (
	// errNoEvents: an empty body, "[]" or an NDJSON body of blank lines.
	errNoEvents = errors.New("no events")

	// errTooLarge: the body (or one NDJSON line) exceeds the limit.
	errTooLarge = errors.New("body too large")

	// errMalformed: the body is not well-formed JSON (or NDJSON).
	errMalformed = errors.New("malformed JSON")
)
