package loadgen

// Protocols the generator speaks, the values of Config.Protocol and
// Spec.Protocol.
const (
	// ProtocolFanoutd is fanoutd's own protocol (and the Node hub's): the
	// token in the upgrade's Authorization header, {"action":"subscribe"}
	// messages, and publishing over the daemon's Unix-socket API.
	ProtocolFanoutd = "fanoutd"
	// ProtocolCentrifugo is Centrifugo's JSON client protocol (v2) over
	// WebSocket: a connect command with the token, a subscribe command per
	// connection, publications as pushes, application pings ({}) answered
	// with pongs ({}); publishing goes to Centrifugo's server HTTP API.
	ProtocolCentrifugo = "centrifugo"
)

// Protocols are the values of Config.Protocol.
var Protocols = []string{ProtocolFanoutd, ProtocolCentrifugo}
