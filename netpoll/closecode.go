package netpoll

// Close codes the transport sends. The 1xxx codes are RFC 6455's; the 4xxx
// ones are fanoutd's own (RFC 6455 §7.4.2 leaves 4000–4999 to applications).
// PROTOCOL.md documents each with what a client should do.
const (
	CloseNormal          = 1000 // normal closure
	CloseGoingAway       = 1001 // server shutting down
	CloseProtocolError   = 1002 // the peer broke RFC 6455
	CloseUnsupportedData = 1003 // a data message of a type the session does not accept
	CloseNoStatus        = 1005 // close frame without a code (never sent)
	CloseAbnormal        = 1006 // connection lost without a close frame (never sent)
	CloseInvalidPayload  = 1007 // text message that is not UTF-8
	ClosePolicyViolation = 1008 // a limit other than size was broken
	CloseTooBig          = 1009 // message over the size limit
	CloseInternalError   = 1011 // the server failed
	CloseServiceRestart  = 1012 // server restarting: reconnect
	CloseSlowConsumer    = 4001 // the client did not read fast enough: its queue overflowed
	CloseHeartbeat       = 4002 // no answer to a ping within the heartbeat timeout
)

// validPeerCloseCode reports whether a peer may send code in a close frame
// (RFC 6455 §7.4). 1012–1014 are registered with IANA and accepted, unlike
// gobwas/ws's CheckCloseFrameData; 1005, 1006 and 1015 must never be sent.
func validPeerCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}
