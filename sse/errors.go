package sse

import "errors"

// errLastEventID is a Last-Event-ID (header or last_event_id parameter)
// the daemon did not write: parseLastEventID returns it, and the request
// is answered 400 with its text.
var errLastEventID = errors.New("malformed Last-Event-ID: want \"channel offset epoch\" triples separated by spaces")
