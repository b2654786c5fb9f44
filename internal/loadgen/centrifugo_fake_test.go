package loadgen

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/golang-jwt/jwt/v5"
)

// fakeCentrifugo is the part of Centrifugo's protocol the generator uses:
// connect (the HS256 token checked, no "channels" claim allowed), subscribe
// to bench:* channels, pushes for /api/publish and /api/batch (a batch's
// pushes to one connection share a frame, one per line, as Centrifugo
// writes them), and a {} ping after the connect reply and after every
// batch, whose {} answers it counts. Channels named in the connect
// command's subs are subscribed as Centrifugo does it (server-side, in the
// connect reply's subs), except those in refuse, which Centrifugo would
// leave out silently as not allowed.
type fakeCentrifugo struct {
	t      *testing.T
	secret string
	key    string
	srv    *httptest.Server
	pongs  atomic.Int64 // {} answers received
	early  atomic.Int64 // of which before the connection's subscribe
	refuse map[string]bool
	// subscribeCmds counts subscribe commands: none with connect subs.
	subscribeCmds atomic.Int64

	mu   sync.Mutex
	subs map[string][]*fakeConn // channel -> subscribers
}

// fakeConn serializes the server's writes to one connection.
// subscribed belongs to the connection's serveWS goroutine.
type fakeConn struct {
	mu         sync.Mutex
	nc         net.Conn
	subscribed bool
}

func (c *fakeConn) write(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = wsutil.WriteServerMessage(c.nc, ws.OpText, p)
}

func startFakeCentrifugo(t *testing.T) *fakeCentrifugo {
	f := &fakeCentrifugo{t: t, secret: testSecret, key: "test-api-key", subs: map[string][]*fakeConn{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/connection/websocket", f.serveWS)
	mux.HandleFunc("/api/publish", f.serveAPI)
	mux.HandleFunc("/api/batch", f.serveAPI)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// config is a run against the fake.
func (f *fakeCentrifugo) config(conns, channels int, rate float64, batch int) Config {
	c := DefaultConfig()
	c.Protocol, c.Secret, c.APIKey, c.APIURL = ProtocolCentrifugo, f.secret, f.key, f.srv.URL
	c.URL = "ws" + strings.TrimPrefix(f.srv.URL, "http") + "/connection/websocket"
	c.Conns, c.Channels, c.Rate, c.Batch = conns, channels, rate, batch
	c.Duration, c.Drain, c.ConnectTimeout = 500*time.Millisecond, 3*time.Second, 20*time.Second
	return c
}

func (f *fakeCentrifugo) serveWS(w http.ResponseWriter, r *http.Request) {
	nc, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer nc.Close()
	c := &fakeConn{nc: nc}
	for {
		msg, err := wsutil.ReadClientText(nc)
		if err != nil {
			return
		}
		if reply := f.command(c, msg); reply != nil {
			c.write(reply)
		}
	}
}

// command answers one client message: nil for a pong.
func (f *fakeCentrifugo) command(c *fakeConn, msg []byte) []byte {
	if bytes.Equal(msg, []byte("{}")) {
		f.pongs.Add(1)
		if !c.subscribed {
			f.early.Add(1)
		}
		return nil
	}
	var cmd struct {
		ID      uint32 `json:"id"`
		Connect *struct {
			Token string
			Subs  map[string]json.RawMessage
		}
		Subscribe *struct{ Channel string }
	}
	if err := json.Unmarshal(msg, &cmd); err != nil {
		f.t.Errorf("fake centrifugo: bad command %q", msg)
		return nil
	}
	id := strconv.Itoa(int(cmd.ID))
	switch {
	case cmd.Connect != nil && f.tokenOK(cmd.Connect.Token):
		return []byte(`{"id":` + id + `,"connect":{"client":"c","version":"fake"` + f.connectSubs(c, cmd.Connect.Subs) +
			`,"ping":25,"pong":true}}` + "\n{}")
	case cmd.Connect != nil:
		return []byte(`{"id":` + id + `,"error":{"code":101,"message":"unauthorized"}}`)
	case cmd.Subscribe != nil && strings.HasPrefix(cmd.Subscribe.Channel, ChannelPrefix):
		f.subscribeCmds.Add(1)
		f.subscribe(c, cmd.Subscribe.Channel)
		return []byte(`{"id":` + id + `,"subscribe":{}}`)
	}
	return []byte(`{"id":` + id + `,"error":{"code":102,"message":"unknown channel"}}`)
}

func (f *fakeCentrifugo) subscribe(c *fakeConn, channel string) {
	c.subscribed = true
	f.mu.Lock()
	f.subs[channel] = append(f.subs[channel], c)
	f.mu.Unlock()
}

// connectSubs subscribes c to the allowed channels of a connect command's
// subs and returns the reply's "subs" field for them ("" for none).
func (f *fakeCentrifugo) connectSubs(c *fakeConn, subs map[string]json.RawMessage) string {
	var b strings.Builder
	for ch := range subs {
		if !strings.HasPrefix(ch, ChannelPrefix) || f.refuse[ch] {
			continue
		}
		f.subscribe(c, ch)
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + ch + `":{}`)
	}
	if b.Len() == 0 {
		return ""
	}
	return `,"subs":{` + b.String() + `}`
}

// tokenOK accepts what Centrifugo would, and refuses a "channels" claim,
// which Centrifugo would take as server-side subscriptions.
func (f *fakeCentrifugo) tokenOK(token string) bool {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return []byte(f.secret), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
	_, channels := claims["channels"]
	return err == nil && claims["sub"] != "" && !channels
}

type fakePublish struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

func (f *fakeCentrifugo) serveAPI(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-API-Key") != f.key {
		http.Error(w, "bad key", http.StatusUnauthorized)
		return
	}
	var pubs []fakePublish
	if r.URL.Path == "/api/batch" {
		var body struct {
			Commands []struct{ Publish fakePublish }
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		for _, c := range body.Commands {
			pubs = append(pubs, c.Publish)
		}
	} else {
		var p fakePublish
		_ = json.NewDecoder(r.Body).Decode(&p)
		pubs = append(pubs, p)
	}
	f.push(pubs)
	if r.URL.Path == "/api/batch" {
		_, _ = w.Write([]byte(`{"replies":[` + strings.Repeat(`{"publish":{}},`, len(pubs)-1) + `{"publish":{}}]}`))
		return
	}
	_, _ = w.Write([]byte(`{"result":{}}`))
}

// push sends each subscriber one frame: its pushes, one per line, then a
// ping.
func (f *fakeCentrifugo) push(pubs []fakePublish) {
	frames := map[*fakeConn][]byte{}
	f.mu.Lock()
	for _, p := range pubs {
		for _, c := range f.subs[p.Channel] {
			b := append(frames[c], `{"push":{"channel":"`+p.Channel+`","pub":{"data":`...)
			frames[c] = append(append(b, p.Data...), "}}}\n"...)
		}
	}
	f.mu.Unlock()
	for c, b := range frames {
		c.write(append(b, "{}"...))
	}
}
