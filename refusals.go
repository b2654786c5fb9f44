package fanoutd

import "sync/atomic"

// Reasons an upgrade is refused by the daemon's own checks, as the
// fanoutd_handshake_failures_total metric labels them (the transport
// counts its own: header size, path, malformed requests, the connection
// limit, the handshake deadline).
const (
	reasonOrigin = iota
	reasonRate
	reasonSubprotocol
	reasonPerIP
	reasonToken
	reasonPerUser
	reasonCookieOrigin
	numReasons
)

// reasonNames are the metric's label values, by reason.
var reasonNames = [numReasons]string{
	reasonOrigin:       "origin",
	reasonRate:         "upgrade_rate",
	reasonSubprotocol:  "subprotocol",
	reasonPerIP:        "per_ip",
	reasonToken:        "token",
	reasonPerUser:      "per_user",
	reasonCookieOrigin: "cookie_without_origin",
}

// refusals counts refused upgrades by reason; one atomic add per refusal.
type refusals [numReasons]atomic.Uint64

// refuse counts a refusal and returns its error unchanged.
func (u *upgrader) refuse(reason int, err error) error {
	u.refused[reason].Add(1)
	return err
}
