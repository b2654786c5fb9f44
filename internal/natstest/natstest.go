// Package natstest runs a real NATS server with JetStream on a free
// loopback port with its store in a temporary folder: in the test's
// process (Server, which the fault tests restart, empty or not), or as its
// own process built from the same module (Process, for benchmarks that
// measure the server's CPU apart).
package natstest

import (
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Server is one in-process nats-server.
type Server struct {
	t     testing.TB
	srv   *server.Server
	port  int
	store string
	URL   string
}

// Start runs a server and waits until it accepts connections; cleanup
// shuts it down.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, port: -1, store: t.TempDir()}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Restart starts the server again after Stop, on the same port and store:
// the stream and its messages survive, as with a real restart.
func (s *Server) Restart() {
	s.t.Helper()
	s.start(true)
}

// RestartNoJetStream starts the server again after Stop, on the same port
// but with JetStream off (a misconfigured server).
func (s *Server) RestartNoJetStream() {
	s.t.Helper()
	s.start(false)
}

func (s *Server) start(js bool) {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: s.port, JetStream: js,
		StoreDir: s.store, NoLog: true, NoSigs: true})
	if err != nil {
		s.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		s.t.Fatal("nats-server not ready within 10 s")
	}
	s.srv, s.port, s.URL = srv, srv.Addr().(*net.TCPAddr).Port, srv.ClientURL()
}

// RestartEmpty starts the server again after Stop, on the same port but
// with a new, empty store: as after a disk loss, the stream is gone.
func (s *Server) RestartEmpty() {
	s.t.Helper()
	s.store = s.t.TempDir()
	s.Restart()
}

// Stop shuts the server down and waits for it.
func (s *Server) Stop() {
	if s.srv == nil {
		return
	}
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
	s.srv = nil
}

// JetStream connects a test's own JetStream client to url (a Server's or
// a Process's), closed at cleanup: for what a test does to the server
// behind the daemon's back (delete a stream, store a message).
func JetStream(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
