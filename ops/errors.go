package ops

import "errors"

// ErrProbeNotDelivered is returned by ProbeHub when the probe's event did
// not come back before the context ended (wrapped with the context's
// error).
var ErrProbeNotDelivered = errors.New("the probe's event was not delivered")
