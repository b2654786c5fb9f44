package fanoutd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/fanoutd/fanoutd/api"
	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/redistest"
	"github.com/golang-jwt/jwt/v5"
)

// The contract between api/openapi.yaml and the code. It fails when a
// route, a status code or a response field exists on one side only:
//
//   - routes: every pattern registered on a mux in the module's packages
//     (read from the source: a ServeMux cannot list its patterns) is a
//     documented operation, and every operation is registered;
//   - status codes: every documented (operation, status) is produced by a
//     real daemon in contractCalls, and every answer's status is documented;
//   - fields: every answer is validated against its schema, whose objects
//     all say additionalProperties: false (a field the code adds fails),
//     and every documented response property is seen in some answer (a
//     field the code dropped fails).
//
// Adding a route: describe it in api/openapi.yaml, then add calls below
// that produce each of its status codes.

const contractAPIKey = "contract-test-api-key-0123456789"

// notReachable are the documented answers a real daemon cannot be made to
// give from a test; ipc's handler tests produce them with fakes.
var notReachable = map[string]string{
	"post /v1/publish 500": "no error of the core maps to it; ipc's handler tests cover the mapping",
	"post /v1/reload 500":  "only a Reloader error that is not a refused configuration; ipc's reload tests cover it",
	"post /v1/publish 504": "needs a broker stalled past its timeout after the send: TestRedisStallPastReadTimeoutPublishesAtMostOnce and ipc's handler tests produce it",
}

// rarelySeen are documented response properties no single daemon here
// produces.
var rarelySeen = map[string]string{
	"#/components/schemas/Client/properties/node":           "needs a broker that shares presence between nodes",
	"#/components/schemas/PublishFailed/properties/outcome": "only on a 504 (see notReachable)",
	"#/components/schemas/StreamRefusal/properties/outcome": "only on a 504 (see notReachable)",
}

// unscanned are registrations whose pattern is not a literal, with the
// reason they are not in the document.
var unscanned = map[string]string{
	"routes.go: cfg.SSE.Path": "the SSE route is a browser transport (PROTOCOL.md), its path is configurable",
}

// contractCall is one request and the answer it must get.
type contractCall struct {
	op     string // documented operation: "post /v1/publish"
	via    string // "unix", "tcp" (with the key), "tcp-nokey", "peer" (a refused peer), "redis" (broker down)
	method string
	path   string
	ctype  string
	body   string
	status int
	lines  int // NDJSON: lines to read before hanging up
	// refusedLines: some lines of the body are refused in the answer's
	// lines (the publish stream acks each), so the body is not checked
	// against the request schema.
	refusedLines bool
	before       func(t *testing.T)
	during       func(t *testing.T) // after the answer's headers, before its body is read
}

// contractFixture holds the daemons the calls go to.
type contractFixture struct {
	doc      *apiDoc
	clients  map[string]*http.Client
	bases    map[string]string
	d        *testDaemon
	reload   atomic.Bool // true: LoadConfig returns an invalid configuration
	notReady atomic.Bool // true: the readiness check fails
}

func TestOpenAPIContract(t *testing.T) {
	f := newContractFixture(t)
	t.Run("document served", f.testServed)
	t.Run("routes", f.testRoutes)
	t.Run("status codes in the code", f.testStatusConstants)
	t.Run("answers", f.testAnswers)
}

func newContractFixture(t *testing.T) *contractFixture {
	f := &contractFixture{doc: loadAPIDoc(t, filepath.Join("api", "openapi.yaml")),
		clients: map[string]*http.Client{}, bases: map[string]string{}}
	cfg := testConfig(t, func(c *config.Config) {
		c.API.Key = contractAPIKey
		c.Health.Enabled = true
		c.Metrics.Enabled = true
		c.Status.Enabled = true
		c.Limits.MaxPublishBytes = 4096
	})
	f.d = runDaemon(t, Options{Config: cfg,
		LoadConfig: func() (config.Config, error) {
			if f.reload.Load() {
				bad := cfg
				bad.API.Key = "short"
				return bad, nil
			}
			return cfg, nil
		},
		ReadinessChecks: []ReadinessCheck{{Name: "app", Check: func(context.Context) error {
			if f.notReady.Load() {
				return errors.New("app not ready")
			}
			return nil
		}}},
	})
	f.clients["unix"], f.bases["unix"] = unixHTTPClient(cfg.Socket), "http://fanoutd"
	f.clients["tcp"], f.bases["tcp"] = &http.Client{Transport: withKey(contractAPIKey)}, "http://"+f.d.addr
	f.clients["tcp-nokey"], f.bases["tcp-nokey"] = &http.Client{}, "http://"+f.d.addr

	peer := runDaemon(t, Options{Config: testConfig(t, func(c *config.Config) {
		c.SocketPeerUIDs = []int{os.Getuid() + 4242}
	})})
	f.clients["peer"], f.bases["peer"] = unixHTTPClient(peer.socket), "http://fanoutd"

	// A daemon that took another's connections over, for the stats of a
	// hand-off (handoff.from_pid…).
	old, took := startDaemon(t), startDaemon(t)
	old.dial(infoToken(t, "dan")).subscribe("project:abc")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := old.srv.handOff(ctx, &inProcessRoute{to: took.srv}); err != nil {
		t.Fatal(err)
	}
	f.clients["tookover"], f.bases["tookover"] = unixHTTPClient(took.socket), "http://fanoutd"

	r := redistest.Start(t)
	down := startDaemon(t, onRedis(r))
	r.Kill()
	f.clients["redis"], f.bases["redis"] = unixHTTPClient(down.socket), "http://fanoutd"
	return f
}

func unixHTTPClient(socket string) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "unix", socket)
	}}}
}

type keyTransport struct{ key string }

func withKey(key string) http.RoundTripper { return keyTransport{key} }

func (k keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+k.key)
	return http.DefaultTransport.RoundTrip(r)
}

// testServed: what GET /v1/openapi.yaml serves is the file in the
// repository, byte for byte.
func (f *contractFixture) testServed(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("api", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(api.OpenAPI(), want) {
		t.Fatal("api.OpenAPI() differs from api/openapi.yaml")
	}
	for _, via := range []string{"unix", "tcp"} {
		resp, err := f.clients[via].Get(f.bases[via] + "/v1/openapi.yaml")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, want) || resp.Header.Get("Content-Type") != "application/yaml" {
			t.Fatalf("%s: GET /v1/openapi.yaml: %d %q, %d bytes, want the file", via, resp.StatusCode,
				resp.Header.Get("Content-Type"), len(got))
		}
	}
}

// testRoutes compares the patterns registered in the source with the
// document's operations.
func (f *contractFixture) testRoutes(t *testing.T) {
	registered, anyMethod := scanRoutes(t)
	documented := f.doc.operations()
	for op := range registered {
		if _, ok := documented[op]; !ok {
			t.Errorf("route %q is registered (%s) but not in api/openapi.yaml", op, registered[op])
		}
	}
	for op := range documented {
		if _, ok := registered[op]; !ok {
			t.Errorf("operation %q is in api/openapi.yaml but no mux registers it", op)
		}
	}
	// A method-less pattern on a documented path is its 405 for other
	// methods: each operation there documents the 405.
	for path, where := range anyMethod {
		var found bool
		for op, statuses := range documented {
			if strings.SplitN(op, " ", 2)[1] == path {
				found = true
				if !statuses["405"] {
					t.Errorf("%s registers every method of %s (its 405), but %q documents no 405", where, path, op)
				}
			}
		}
		if !found {
			t.Errorf("%s registers %s, which api/openapi.yaml does not describe", where, path)
		}
	}
}

// operations lists the document's operations with their status codes.
func (d *apiDoc) operations() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	paths, _ := d.root["paths"].(map[string]any)
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		for method, op := range ops {
			if !slices.Contains([]string{"get", "put", "post", "delete", "patch", "head", "options"}, method) {
				continue
			}
			statuses := map[string]bool{}
			responses, _ := op.(map[string]any)["responses"].(map[string]any)
			for s := range responses {
				statuses[s] = true
			}
			out[method+" "+path] = statuses
		}
	}
	return out
}

// testAnswers makes every call, validates each answer against the
// document, then checks that every documented status and field was seen.
func (f *contractFixture) testAnswers(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range append(f.calls(), f.controlCalls()...) {
		name := fmt.Sprintf("%s %s %s via %s", c.method, c.path, http.StatusText(c.status), c.via)
		if c.before != nil {
			c.before(t)
		}
		status := f.do(t, name, c)
		seen[fmt.Sprintf("%s %d", c.op, status)] = true
		if status == http.StatusOK && c.body != "" && c.method == http.MethodPost && !c.refusedLines {
			f.checkRequest(t, name, c)
		}
	}
	for op, statuses := range f.doc.operations() {
		for s := range statuses {
			key := op + " " + s
			if !seen[key] && notReachable[key] == "" {
				t.Errorf("%s: documented, but no call produced it (add one to contractCalls)", key)
			}
		}
	}
	all := map[string]bool{}
	for op := range f.doc.operations() {
		method, path, _ := strings.Cut(op, " ")
		f.doc.responseProperties("#/paths/"+escape(path)+"/"+method+"/responses", all)
	}
	f.doc.properties("#/components/schemas/Event", all, map[string]bool{})
	for p := range all {
		if !f.doc.seen[p] && rarelySeen[p] == "" && rarelySeenControl[p] == "" {
			t.Errorf("%s: documented, but no answer carried it", p)
		}
	}
}

// checkRequest: a body the daemon accepted is one the document's request
// schema accepts (a line at a time for NDJSON).
func (f *contractFixture) checkRequest(t *testing.T, name string, c contractCall) {
	method, path, _ := strings.Cut(c.op, " ")
	ptr := "#/paths/" + escape(path) + "/" + method + "/requestBody/content/application~1json/schema"
	bodies := []string{c.body}
	if c.ctype == "application/x-ndjson" {
		ptr = "#/components/schemas/Event"
		bodies = strings.Split(strings.TrimSpace(c.body), "\n")
	}
	for _, b := range bodies {
		if strings.TrimSpace(b) == "" {
			continue
		}
		dec := json.NewDecoder(strings.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: request: %v", name, err)
			continue
		}
		for _, p := range f.doc.validate(ptr, v) {
			t.Errorf("%s: the daemon accepted a request the document refuses: %s", name, p)
		}
	}
}

// responseProperties adds every property of every response's JSON or
// NDJSON schema under the responses object at ptr.
func (d *apiDoc) responseProperties(ptr string, into map[string]bool) {
	n, _ := d.at(ptr)
	responses, _ := n.(map[string]any)
	for status := range responses {
		rptr, r, err := d.deref(ptr + "/" + escape(status))
		if err != nil {
			continue
		}
		content, _ := r["content"].(map[string]any)
		for mt := range content {
			d.properties(rptr+"/content/"+escape(mt)+"/schema", into, map[string]bool{})
		}
	}
}

// do makes one call and checks its answer; it returns the status.
func (f *contractFixture) do(t *testing.T, name string, c contractCall) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, f.bases[c.via]+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.ctype != "" {
		req.Header.Set("Content-Type", c.ctype)
	}
	resp, err := f.clients[c.via].Do(req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != c.status {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Errorf("%s: status %d %s, want %d", name, resp.StatusCode, b, c.status)
		return resp.StatusCode
	}
	if c.during != nil {
		c.during(t)
	}
	method, path, _ := strings.Cut(c.op, " ")
	rptr, r, err := f.doc.deref("#/paths/" + escape(path) + "/" + method + "/responses/" + strconv.Itoa(resp.StatusCode))
	if err != nil {
		t.Errorf("%s: status %d is not documented for %s", name, resp.StatusCode, c.op)
		return resp.StatusCode
	}
	f.checkHeaders(t, name, r, resp)
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	content, _ := r["content"].(map[string]any)
	if _, ok := content[mt]; !ok {
		t.Errorf("%s: Content-Type %q is not documented (%v)", name, mt, content)
		return resp.StatusCode
	}
	schema := rptr + "/content/" + escape(mt) + "/schema"
	switch mt {
	case "application/json":
		f.checkJSON(t, name, schema, resp.Body)
	case "application/x-ndjson":
		f.checkNDJSON(t, name, schema, resp.Body, c.lines)
	default:
		if b, _ := io.ReadAll(resp.Body); len(b) == 0 {
			t.Errorf("%s: empty %s body", name, mt)
		}
	}
	return resp.StatusCode
}

func (f *contractFixture) checkHeaders(t *testing.T, name string, r map[string]any, resp *http.Response) {
	headers, _ := r["headers"].(map[string]any)
	for h := range headers {
		if resp.Header.Get(h) == "" {
			t.Errorf("%s: documented header %s missing", name, h)
		}
	}
}

func (f *contractFixture) checkJSON(t *testing.T, name, schema string, body io.Reader) {
	dec := json.NewDecoder(body)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Errorf("%s: body: %v", name, err)
		return
	}
	for _, p := range f.doc.validate(schema, v) {
		t.Errorf("%s: %s", name, p)
	}
}

func (f *contractFixture) checkNDJSON(t *testing.T, name, schema string, body io.Reader, lines int) {
	sc := bufio.NewScanner(body)
	for i := 0; i < lines; i++ {
		if !sc.Scan() {
			t.Errorf("%s: stream ended after %d lines, want %d: %v", name, i, lines, sc.Err())
			return
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Errorf("%s: line %d: %v", name, i, err)
			continue
		}
		for _, p := range f.doc.validate(schema, v) {
			t.Errorf("%s: line %d: %s", name, i, p)
		}
	}
}

// infoToken is a token with an "info" claim, so presence shows it.
func infoToken(t *testing.T, sub string) string {
	t.Helper()
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": sub, "channels": []string{"*"}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"info": map[string]any{"name": "Ann"},
	}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// calls is the table: at least one call per documented (operation, status).
func (f *contractFixture) calls() []contractCall {
	const pub, js, nd = "post /v1/publish", "application/json", "application/x-ndjson"
	event := `{"channel":"project:abc","type":"story.status.changed","payload":{"n":1}}`
	keyed := `{"channel":"project:abc","type":"t","idempotency_key":"k-1"}`
	clients := func(t *testing.T) {
		gone := f.d.dial(infoToken(t, "bob"))
		gone.subscribe("project:abc")
		_ = gone.c.Close(websocket.StatusNormalClosure, "")
		stays := f.d.dial(infoToken(t, "ann"))
		stays.subscribe("project:abc")
		// The disconnect is logged when the daemon has seen the close.
		deadline := time.Now().Add(5 * time.Second)
		for f.d.srv.Stats().Connections != 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	calls := []contractCall{
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: event, status: 200},
		{op: pub, via: "tcp", method: "POST", path: "/v1/publish", ctype: js, body: "[" + event + "," + event + "]", status: 200},
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: nd, body: event + "\n\n" + event + "\n", status: 200},
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: keyed, status: 200},
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: keyed, status: 200}, // duplicate
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: `{"projectId":"abc","type":"t","payload":null}`, status: 200},
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: `[{"type":"t"},{"channel":"c","type":"t","x":1}]`, status: 400},
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: `[{"channel":"c","type":"t"},{`, status: 400},
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: `[]`, status: 400},
		{op: pub, via: "unix", method: "POST", path: "/v1/publish", ctype: js, body: `{"channel":"c","type":"t","payload":"` + strings.Repeat("x", 5000) + `"}`, status: 413},
		{op: pub, via: "redis", method: "POST", path: "/v1/publish", ctype: js, body: event, status: 503},
		{op: pub, via: "unix", method: "GET", path: "/v1/publish", status: 405},
		{op: "post /v1/publish/stream", via: "unix", method: "POST", path: "/v1/publish/stream", ctype: nd,
			body: event + "\n" + `{"channel":"s","type":"t","idempotency_key":"s-1"}` + "\n\n" +
				`{"channel":"s","type":"t","idempotency_key":"s-1"}` + "\n" + `{"type":"t"}` + "\n", status: 200, lines: 4, refusedLines: true},
		{op: "post /v1/publish/stream", via: "tcp", method: "POST", path: "/v1/publish/stream", ctype: nd, body: event, status: 200, lines: 1},
		{op: "post /v1/publish/stream", via: "unix", method: "GET", path: "/v1/publish/stream", status: 405},
		{op: "post /v1/reload", via: "unix", method: "POST", path: "/v1/reload", status: 200},
		{op: "post /v1/reload", via: "unix", method: "POST", path: "/v1/reload", status: 400,
			before: func(*testing.T) { f.reload.Store(true) }},
		{op: "post /v1/reload", via: "tcp", method: "POST", path: "/v1/reload", status: 404,
			before: func(*testing.T) { f.reload.Store(false) }},
		{op: "post /v1/reload", via: "unix", method: "GET", path: "/v1/reload", status: 405},
		{op: "get /v1/channels", via: "unix", method: "GET", path: "/v1/channels", status: 200, before: clients},
		{op: "get /v1/channels", via: "unix", method: "DELETE", path: "/v1/channels", status: 405},
		{op: "get /v1/channels/{channel}/presence", via: "unix", method: "GET", path: "/v1/channels/project%3Aabc/presence", status: 200},
		{op: "get /v1/channels/{channel}/presence", via: "unix", method: "POST", path: "/v1/channels/c/presence", status: 405},
		{op: "get /v1/events", via: "unix", method: "GET", path: "/v1/events", status: 200, lines: 5},
		{op: "get /v1/events", via: "tcp", method: "GET", path: "/v1/events?after=3&epoch=another", status: 200, lines: 2},
		{op: "get /v1/events", via: "unix", method: "GET", path: "/v1/events?after=x", status: 400},
		{op: "get /v1/events", via: "unix", method: "POST", path: "/v1/events", status: 405},
		{op: "get /v1/stats", via: "unix", method: "GET", path: "/v1/stats", status: 200},
		{op: "get /v1/stats", via: "tookover", method: "GET", path: "/v1/stats", status: 200},
		{op: "get /v1/stats", via: "unix", method: "GET", path: "/v1/stats", status: 200, before: func(t *testing.T) {
			if _, err := f.d.srv.Upgrade(t.Context(), UpgradeOptions{Path: "/bin/false"}); err == nil {
				t.Fatal("an upgrade to /bin/false succeeded")
			}
		}},
		{op: "get /v1/stats", via: "tcp", method: "GET", path: "/v1/stats", status: 200},
		{op: "get /v1/stats", via: "unix", method: "POST", path: "/v1/stats", status: 405},
		{op: "get /v1/openapi.yaml", via: "unix", method: "GET", path: "/v1/openapi.yaml", status: 200},
		{op: "get /v1/openapi.yaml", via: "unix", method: "PUT", path: "/v1/openapi.yaml", status: 405},
		{op: "get /healthz", via: "tcp-nokey", method: "GET", path: "/healthz", status: 200},
		{op: "get /readyz", via: "tcp-nokey", method: "GET", path: "/readyz", status: 200},
		{op: "get /readyz", via: "tcp-nokey", method: "GET", path: "/readyz", status: 503,
			before: func(*testing.T) { f.notReady.Store(true) }},
		{op: "get /metrics", via: "tcp-nokey", method: "GET", path: "/metrics", status: 200,
			before: func(*testing.T) { f.notReady.Store(false) }},
		{op: "get /", via: "tcp-nokey", method: "GET", path: "/", status: 200},
		{op: "get /status/history.json", via: "tcp-nokey", method: "GET", path: "/status/history.json", status: 200},
		{op: "get /status/tables.json", via: "tcp-nokey", method: "GET", path: "/status/tables.json", status: 200, before: clients},
	}
	// Every /v1/ route answers 401 on TCP without the key, and 403 to a
	// peer the socket's allowlist refuses.
	for _, r := range []struct{ op, method, path string }{
		{pub, "POST", "/v1/publish"}, {"post /v1/publish/stream", "POST", "/v1/publish/stream"}, {"get /v1/stats", "GET", "/v1/stats"},
		{"get /v1/channels", "GET", "/v1/channels"}, {"get /v1/channels/{channel}/presence", "GET", "/v1/channels/c/presence"},
		{"get /v1/events", "GET", "/v1/events"}, {"post /v1/reload", "POST", "/v1/reload"},
		{"get /v1/openapi.yaml", "GET", "/v1/openapi.yaml"},
	} {
		calls = append(calls,
			contractCall{op: r.op, via: "tcp-nokey", method: r.method, path: r.path, body: event, status: 401},
			contractCall{op: r.op, via: "peer", method: r.method, path: r.path, body: event, status: 403})
	}
	return calls
}
