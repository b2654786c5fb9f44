package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/golang-jwt/jwt/v5"
)

// TestCentrifugoRun drives a whole run in one process against the fake:
// connect and subscribe by id, pushes several to a frame, pings answered,
// publishing through /api/publish (batch 1) and /api/batch.
func TestCentrifugoRun(t *testing.T) {
	for _, tc := range []struct {
		name           string
		channels       int
		rate           float64
		batch          int
		wantPerEvent   int64
		wantBatchPings bool
	}{
		{name: "publish to one channel", channels: 1, rate: 200, batch: 1, wantPerEvent: 40},
		{name: "batch over four channels", channels: 4, rate: 400, batch: 8, wantPerEvent: 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFakeCentrifugo(t)
			cfg := f.config(40, tc.channels, tc.rate, tc.batch)
			rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}, Progress: logWriter{t}})
			if err != nil {
				t.Fatal(err)
			}
			logReport(t, rep)
			switch {
			case rep.Connected != 40 || rep.ConnectFailures != 0:
				t.Errorf("connected %d, failed %d %v", rep.Connected, rep.ConnectFailures, rep.ConnectErrors)
			case rep.Published == 0 || rep.Accepted != rep.Published || rep.Expected != rep.Published*tc.wantPerEvent:
				t.Errorf("published %d, accepted %d, expected %d", rep.Published, rep.Accepted, rep.Expected)
			case rep.Received != rep.Expected || rep.Lost != 0 || rep.OutOfOrder != 0 || rep.Disconnects != 0:
				t.Errorf("received %d of %d, out of order %d, disconnects %d %v",
					rep.Received, rep.Expected, rep.OutOfOrder, rep.Disconnects, rep.DisconnectReasons)
			case rep.Daemon.Delivered != rep.Received:
				t.Errorf("delivered %d (the workers' count) != received %d", rep.Daemon.Delivered, rep.Received)
			case rep.Generator.UnrecognisedFrames != 0:
				t.Errorf("%d unrecognised messages", rep.Generator.UnrecognisedFrames)
			case rep.Generator.Pongs == 0:
				t.Error("pings after pushes not answered")
			}
			// The ping in each connect reply's frame is answered before
			// the subscribe (the fake may not have read the last pongs yet).
			if got := f.early.Load(); got != 40 || f.pongs.Load() > 40+rep.Generator.Pongs {
				t.Errorf("fake received %d pongs before subscribing (want 40), %d in all (worker sent %d+40)",
					got, f.pongs.Load(), rep.Generator.Pongs)
			}
		})
	}
}

// TestCentrifugoRefusals: a token signed with another key fails every
// connection with Centrifugo's error, which the report names.
func TestCentrifugoRefusals(t *testing.T) {
	f := startFakeCentrifugo(t)
	cfg := f.config(5, 1, 100, 1)
	cfg.Secret = strings.Repeat("w", 40)
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}})
	if err == nil || rep.Connected != 0 || rep.ConnectFailures != 5 {
		t.Fatalf("err %v, connected %d, failed %d", err, rep.Connected, rep.ConnectFailures)
	}
	for reason := range rep.ConnectErrors {
		if !strings.Contains(reason, "centrifugo error 101: unauthorized") {
			t.Errorf("connect error %q", reason)
		}
	}
}

// TestCentrifugoCommands: the two commands are the JSON Centrifugo expects.
func TestCentrifugoCommands(t *testing.T) {
	var connect struct {
		ID      int `json:"id"`
		Connect struct {
			Token string `json:"token"`
		} `json:"connect"`
	}
	if err := json.Unmarshal(centrifugoConnectCmd("a.b.c"), &connect); err != nil ||
		connect.ID != centrifugoConnectID || connect.Connect.Token != "a.b.c" {
		t.Errorf("connect %+v %v", connect, err)
	}
	var sub struct {
		ID        int `json:"id"`
		Subscribe struct {
			Channel string `json:"channel"`
		} `json:"subscribe"`
	}
	if err := json.Unmarshal(centrifugoSubscribeCmd(17), &sub); err != nil ||
		sub.ID != centrifugoSubscribeID || sub.Subscribe.Channel != "bench:17" {
		t.Errorf("subscribe %+v %v", sub, err)
	}
}

// TestCentrifugoTokenHasNoChannels: sub and exp, and no "channels" claim.
func TestCentrifugoTokenHasNoChannels(t *testing.T) {
	now := time.Now()
	tok, err := mintCentrifugoToken([]byte(testSecret), time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testSecret), nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["channels"]; ok || claims["sub"] == "" || claims["exp"] == nil {
		t.Errorf("claims %v", claims)
	}
}

// TestCentrifugoAwaitReply: replies to other ids and pushes are skipped,
// a ping sharing their frame is answered, the awaited reply ends the wait,
// and an error reply wraps ErrSubscribe.
func TestCentrifugoAwaitReply(t *testing.T) {
	for _, tc := range []struct {
		name    string
		frames  []string
		wantErr error
	}{
		{name: "reply after others", frames: []string{`{"id":7,"rpc":{}}` + "\n{}", `{"push":{"pub":{}}}`, `{"id":1,"connect":{}}`}},
		{name: "error reply", frames: []string{"{}\n" + `{"id":1,"error":{"code":109,"message":"token expired"}}`}, wantErr: ErrSubscribe},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cn, sn := net.Pipe()
			defer cn.Close()
			pong := make(chan []byte, 1)
			go func() {
				defer sn.Close()
				for _, f := range tc.frames {
					_ = wsutil.WriteServerMessage(sn, ws.OpText, []byte(f))
					if strings.Contains("\n"+f+"\n", "\n{}\n") { // a ping line

						p, _ := wsutil.ReadClientText(sn)
						pong <- p
					}
				}
			}()
			c := &client{nc: cn, fr: newFrameReader(cn, 1024)}
			_, err := c.awaitCentrifugoReply(centrifugoConnectID)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr != nil) != (err != nil) {
				t.Errorf("err %v, want %v", err, tc.wantErr)
			}
			if p := <-pong; string(p) != "{}" {
				t.Errorf("pong %q", p)
			}
		})
	}
}

// TestCentrifugoBody: bodies decode as the API expects, round robin over
// the channels, and the payload keeps "ts" and "seq" findable.
func TestCentrifugoBody(t *testing.T) {
	var one fakePublish
	if err := json.Unmarshal(appendCentrifugoBody(nil, false, 3, 5, 1, 99, 200, false), &one); err != nil ||
		one.Channel != "bench:2" {
		t.Fatalf("single %+v %v", one, err)
	}
	if ts, seq, ok := parseEvent(one.Data); !ok || ts != 99 || seq != 5 {
		t.Errorf("payload %s", one.Data)
	}
	var batch struct {
		Commands []struct{ Publish fakePublish }
	}
	if err := json.Unmarshal(appendCentrifugoBody(nil, true, 2, 4, 3, 1, 200, true), &batch); err != nil ||
		len(batch.Commands) != 3 {
		t.Fatalf("batch %+v %v", batch, err)
	}
	for i, c := range batch.Commands {
		if _, seq, _ := parseEvent(c.Publish.Data); c.Publish.Channel != ChannelName((4+i)%2) || seq != int64(4+i) {
			t.Errorf("command %d: %+v", i, c.Publish)
		}
	}
}

// TestCentrifugoAnswers: accepted events are counted from the answer.
func TestCentrifugoAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		batch  bool
		answer string
		want   int64
		ok     bool
	}{
		{"publish", false, `{"result":{}}`, 1, true},
		{"publish refused", false, `{"error":{"code":102,"message":"unknown channel"}}`, 0, false},
		{"batch", true, `{"replies":[{"publish":{}},{"publish":{}}]}`, 2, true},
		{"batch partly refused", true, `{"replies":[{"publish":{}},{"error":{"code":102,"message":"x"}}]}`, 1, false},
		{"not JSON", true, `<html>`, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := (&centrifugoAPI{batch: tc.batch}).accepted([]byte(tc.answer))
			if n != tc.want || (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrPublishAPI)) {
				t.Errorf("got %d, %v", n, err)
			}
		})
	}
}

// TestCentrifugoConfig: the API URL and key are required and loopback.
func TestCentrifugoConfig(t *testing.T) {
	c := DefaultConfig()
	c.Secret, c.Protocol, c.Socket = testSecret, ProtocolCentrifugo, ""
	if err := c.Resolve().Validate(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--api-url") {
		t.Errorf("no API: %v", err)
	}
	c.APIURL, c.APIKey = "http://10.0.0.1:8000", "k"
	if err := c.Resolve().Validate(); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("remote API: %v", err)
	}
	c.APIURL = "http://127.0.0.1:8000"
	if err := c.Resolve().Validate(); err != nil {
		t.Errorf("good config: %v", err)
	}
	c.Protocol = "mqtt"
	if err := c.Resolve().Validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown protocol: %v", err)
	}
}
