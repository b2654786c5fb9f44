package handoff

import (
	"errors"
	"fmt"
)

// ErrVersion is wrapped by Decode when the image was written in a format
// version this binary does not read; the message names both versions. The
// new process refuses the hand-off (Parent.Refuse) and the old one carries
// on.
var ErrVersion = errors.New("handoff: image version not supported")

// ErrCorrupt is wrapped by Decode for anything that is not a whole image
// of a known version: garbage, truncation, a checksum mismatch, a missing
// section or a section that does not decode into the value given.
var ErrCorrupt = errors.New("handoff: image corrupt")

// ErrAborted is returned by Parent.WaitCommit and Parent.Receive when the
// old process aborted the hand-off, or went away before committing: the
// new process must exit without reading, writing, shutting down or
// closing-with-linger any received socket.
var ErrAborted = errors.New("handoff: aborted by the old process")

// ErrChildExited is wrapped by the Child methods when the new process
// exited (or closed its end of the hand-off socket) before the step
// awaited; the message carries its exit status when known.
var ErrChildExited = errors.New("handoff: new process exited")

// ErrRefused is wrapped (by a *RefusedError) when the new process refused
// the hand-off with Parent.Refuse.
var ErrRefused = errors.New("handoff: refused by the new process")

// ErrProtocol is wrapped when the other side sent a message out of order
// or a malformed one: two binaries that do not speak the same hand-off.
var ErrProtocol = errors.New("handoff: protocol error")

// ErrStoreTooSmall is returned by Store when $FDSTORE (the unit's
// FileDescriptorStoreMax=) cannot hold every descriptor of the bundle;
// nothing is stored, and the caller drains instead.
var ErrStoreTooSmall = errors.New("handoff: file descriptor store too small")

// ErrNoNotifySocket is returned by Store and ClearStore when
// NOTIFY_SOCKET is unset: the process is not run by a service manager.
var ErrNoNotifySocket = errors.New("handoff: NOTIFY_SOCKET not set")

// ErrNoImage is returned by Restore when connection descriptors came back
// from the store without a state image to serve them with. Restore has
// closed its copies; ClearStore then lets the clients reconnect.
var ErrNoImage = errors.New("handoff: descriptors without a state image")

// RefusedError carries the reason the new process gave to Parent.Refuse.
type RefusedError struct {
	// Reason is the new process's own words, e.g. a Decode error.
	Reason string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("%v: %s", ErrRefused, e.Reason)
}

// Unwrap makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Unwrap() error { return ErrRefused }
