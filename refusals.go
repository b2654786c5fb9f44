package fanoutd

import (
	"sync/atomic"

	"go.uber.org/zap"
)

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
	reasonConnectChannels
	numReasons
)

// reasonNames are the metric's label values, by reason.
var reasonNames = [numReasons]string{
	reasonOrigin:          "origin",
	reasonRate:            "upgrade_rate",
	reasonSubprotocol:     "subprotocol",
	reasonPerIP:           "per_ip",
	reasonToken:           "token",
	reasonPerUser:         "per_user",
	reasonCookieOrigin:    "cookie_without_origin",
	reasonConnectChannels: "connect_channels",
}

// refusals counts refused upgrades by reason; one atomic add per refusal.
type refusals [numReasons]atomic.Uint64

// refuse counts a refusal and returns its error unchanged. It logs it at
// debug, dev mode's default level, so that a newcomer sees why a browser was
// turned away; production sees the metric. Origin and token refusals are
// logged where they happen, with more detail.
func (u *upgrader) refuse(reason int, err error) error {
	u.refused[reason].Add(1)
	if reason != reasonOrigin && reason != reasonToken {
		if ce := u.log.Check(zap.DebugLevel, "upgrade refused"); ce != nil {
			ce.Write(zap.String("reason", reasonNames[reason]), zap.Error(err))
		}
	}
	return err
}
