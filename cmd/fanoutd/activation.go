package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/systemd"
	"go.uber.org/zap"
)

// The FileDescriptorName= values that say which passed socket is which.
const (
	fdNameWebSocket = "websocket"
	fdNamePublish   = "publish"
)

// errActivation is wrapped by the errors of sortActivated: the socket
// units pass sockets that fanoutd cannot tell apart or has no use for.
var errActivation = errors.New("socket activation")

// sortActivated gives each listener of socket activation its role. A
// listener named "websocket" or "publish" takes that role. Any other name
// (systemd names every descriptor of a socket unit alike: after the unit,
// or after its one FileDescriptorName=) takes its role from its kind: TCP
// serves WebSockets, a Unix socket the publish API. Two listeners for one
// role, or one that fits neither, is an error, and every listener is then
// closed. A role nobody passed is left nil: New binds it from the config.
func sortActivated(lns []systemd.Listener) (ws, pub net.Listener, err error) {
	for _, l := range lns {
		role, rerr := activatedRole(l)
		switch {
		case rerr != nil:
			err = rerr
		case role == fdNameWebSocket && ws == nil:
			ws = l.Listener
		case role == fdNamePublish && pub == nil:
			pub = l.Listener
		default:
			err = fmt.Errorf("%w: more than one %s socket passed (%q at %s)", errActivation, role, l.Name, l.Addr())
		}
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, nil, err
		}
	}
	return ws, pub, nil
}

func activatedRole(l systemd.Listener) (string, error) {
	switch l.Name {
	case fdNameWebSocket, fdNamePublish:
		return l.Name, nil
	}
	switch l.Listener.(type) {
	case *net.TCPListener:
		return fdNameWebSocket, nil
	case *net.UnixListener:
		return fdNamePublish, nil
	}
	return "", fmt.Errorf("%w: passed socket %q at %s is neither TCP nor Unix; name it %q or %q",
		errActivation, l.Name, l.Addr(), fdNameWebSocket, fdNamePublish)
}

// logActivated says which sockets came from the service manager, and warns
// where the configuration names another address: the socket unit wins, and
// an operator who edited only the file should know why nothing changed.
func logActivated(log *zap.Logger, cfg config.Config, ws, pub net.Listener) {
	if ws != nil {
		log.Info("WebSocket listener passed by the service manager", zap.Stringer("addr", ws.Addr()))
		if ws.Addr().String() != cfg.Listen {
			log.Warn("listen from the configuration is not used: the socket unit's ListenStream= is",
				zap.String("listen", cfg.Listen), zap.Stringer("passed", ws.Addr()))
		}
	}
	if pub != nil {
		log.Info("publish socket passed by the service manager", zap.Stringer("addr", pub.Addr()))
		if pub.Addr().String() != cfg.Socket {
			log.Warn("socket from the configuration is not used: the socket unit's ListenStream= is "+
				"(its SocketMode= and SocketGroup= replace socket_mode and socket_group)",
				zap.String("socket", cfg.Socket), zap.Stringer("passed", pub.Addr()))
		}
	}
}
