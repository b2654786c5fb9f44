package loadgen

import "errors"

// Sentinel errors, wrapped with %w where they are returned.
var (
	// ErrConfig is returned by Config.Validate (joined, one per bad field).
	ErrConfig = errors.New("invalid configuration")
	// ErrNotLoopback is returned when the WebSocket target is not in
	// 127.0.0.0/8: the generator refuses to load anything but this machine.
	ErrNotLoopback = errors.New("target is not a loopback address (127.0.0.0/8)")
	// ErrUpgrade is a handshake the daemon did not answer with 101.
	ErrUpgrade = errors.New("websocket upgrade refused")
	// ErrSubscribe is a subscribe the daemon answered with an error.
	ErrSubscribe = errors.New("subscribe refused")
	// ErrProtocol is a server frame the generator does not expect (masked,
	// fragmented, binary, or too large).
	ErrProtocol = errors.New("unexpected frame from server")
	// ErrWorker is a worker process that broke the line protocol or exited
	// before its final report.
	ErrWorker = errors.New("worker failed")
	// ErrProcfs is a /proc file that does not parse.
	ErrProcfs = errors.New("unexpected /proc contents")
	// ErrPublishAPI is an unusable answer from the publish API.
	ErrPublishAPI = errors.New("publish API")

	// errTimeout ends a fleet.await whose deadline passed first.
	errTimeout = errors.New("timed out")
)
