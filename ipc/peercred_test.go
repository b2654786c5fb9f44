package ipc

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

const publishOne = `{"channel":"c","type":"t"}`

// publishedOne is the answer to publishOne from the fake publisher.
const publishedOne = `{"published":1,"positions":[{"channel":"c","offset":1,"epoch":"e1"}]}`

// nobody is a uid and gid the test process does not have.
const nobody = 65534

func forbiddenBody() string {
	return fmt.Sprintf(`{"error":"forbidden: peer uid %d gid %d not allowed"}`, os.Getuid(), os.Getgid())
}

func TestPeerAllowlist(t *testing.T) {
	if os.Getuid() == nobody || os.Getgid() == nobody {
		t.Skip("the test runs as uid or gid 65534")
	}
	cases := []struct {
		name       string
		uids, gids []int
		status     int
		body       string
	}{
		{"no allowlist", nil, nil, http.StatusOK, publishedOne},
		{"our uid", []int{nobody, os.Getuid()}, nil, http.StatusOK, publishedOne},
		{"our gid", []int{nobody}, []int{os.Getgid()}, http.StatusOK, publishedOne},
		{"other uid", []int{nobody}, nil, http.StatusForbidden, forbiddenBody()},
		{"other gid", nil, []int{nobody}, http.StatusForbidden, forbiddenBody()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startUnix(t, Options{PeerUIDs: tc.uids, PeerGIDs: tc.gids})
			r := s.do(t, "POST", "/v1/publish", "", publishOne)
			assertStatus(t, r, tc.status)
			assertJSON(t, r.body, tc.body)
			want := 0
			if tc.status == http.StatusOK {
				want = 1
			}
			if got := len(s.pub.recorded()); got != want {
				t.Errorf("published %d events, want %d", got, want)
			}
		})
	}
}

// The check runs before routing, like the TCP key check: an unknown peer
// learns nothing about the API, not even which paths exist.
func TestPeerAllowlistGuardsEveryRoute(t *testing.T) {
	s := startUnix(t, Options{PeerUIDs: []int{nobody}})
	for _, path := range []string{"/v1/stats", "/nope"} {
		r := s.do(t, "GET", path, "", "")
		assertStatus(t, r, http.StatusForbidden)
		assertJSON(t, r.body, forbiddenBody())
	}
}

func TestPeerAllowlistLogsRefusal(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	path := socketPath(t)
	ln := listen(t, path, 0o600)
	h := NewHandler(Options{Publisher: &fakePublisher{}, Logger: zap.New(core), PeerUIDs: []int{nobody}})
	serve(t, ln, h)
	hc := unixHTTPClient(path)
	t.Cleanup(hc.CloseIdleConnections)
	s := &testServer{base: "http://unix", hc: hc}
	assertStatus(t, s.do(t, "POST", "/v1/publish", "", publishOne), http.StatusForbidden)
	got := logs.FilterMessage("refused request from peer not in allowlist").All()
	if len(got) != 1 {
		t.Fatalf("warn logs = %v, want one refusal", logs.All())
	}
	fields := got[0].ContextMap()
	if fields["uid"] != int64(os.Getuid()) || fields["gid"] != int64(os.Getgid()) || fields["pid"] != int64(os.Getpid()) {
		t.Errorf("log fields = %v, want our uid, gid and pid", fields)
	}
}

// A handler served without PeerCredContext sees no credentials; with an
// allowlist it must refuse rather than guess.
func TestPeerAllowlistFailsClosedWithoutConnContext(t *testing.T) {
	path := socketPath(t)
	ln := listen(t, path, 0o600)
	pub := &fakePublisher{}
	h := NewHandler(Options{Publisher: pub, PeerUIDs: []int{os.Getuid()}, PeerGIDs: []int{os.Getgid()}})
	serveWith(t, ln, &http.Server{Handler: h})
	hc := unixHTTPClient(path)
	t.Cleanup(hc.CloseIdleConnections)
	s := &testServer{base: "http://unix", hc: hc}
	r := s.do(t, "POST", "/v1/publish", "", publishOne)
	assertStatus(t, r, http.StatusForbidden)
	assertJSON(t, r.body, `{"error":"forbidden: peer credentials unavailable"}`)
	if n := len(pub.recorded()); n != 0 {
		t.Errorf("published %d events without credentials", n)
	}
}

func TestPeerCredContextUnixConn(t *testing.T) {
	path := socketPath(t)
	ln := listen(t, path, 0o600)
	client, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cred, ok := PeerCredFromContext(PeerCredContext(context.Background(), server))
	want := PeerCred{UID: os.Getuid(), GID: os.Getgid(), PID: os.Getpid()}
	if !ok || cred != want {
		t.Errorf("PeerCredFromContext = %+v, %v; want %+v, true", cred, ok, want)
	}
}

func TestPeerCredContextNonUnixConn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	tcp, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	pipeA, pipeB := net.Pipe()
	defer pipeA.Close()
	defer pipeB.Close()
	for name, c := range map[string]net.Conn{"tcp": tcp, "pipe": pipeA} {
		ctx := context.Background()
		got := PeerCredContext(ctx, c)
		if cred, ok := PeerCredFromContext(got); ok {
			t.Errorf("%s: credentials %+v, want none", name, cred)
		}
		if got != ctx {
			t.Errorf("%s: context replaced, want it unchanged", name)
		}
	}
}

// The TCP API answers to its key alone: an allowlist in the shared Options
// must not lock it out, since TCP peers have no credentials.
func TestTCPHandlerIgnoresPeerAllowlist(t *testing.T) {
	s := startTCP(t, Options{APIKey: "k", PeerUIDs: []int{nobody}})
	r := s.do(t, "POST", "/v1/publish", "", publishOne, "Authorization", "Bearer k")
	assertStatus(t, r, http.StatusOK)
}
