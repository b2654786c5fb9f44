package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// refusedInURL is the connect error of a channel the fake refuses.
const refusedInURL = "subscribe refused: unsubscribed forbidden: channel not allowed by token"

// TestSubscribeInURLRun: two real worker processes on two source addresses
// subscribe at connect time (channels in the upgrade URL, no command)
// against the fake fanoutd, which refuses bench:3. Its 10 connections fail
// with the refusal as their reason; the 30 others get every event.
func TestSubscribeInURLRun(t *testing.T) {
	f := startFakeFanoutd(t, "bench:3")
	cfg := f.config(40, 2, 4, 200)
	cfg.SourceIPs, cfg.Label = 2, "url"
	rep, err := Run(context.Background(), cfg, Options{Launcher: execLauncher(), Progress: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	switch {
	case !rep.SubscribeInURL || rep.Procs != 2:
		t.Errorf("report: subscribe_in_url %v, procs %d", rep.SubscribeInURL, rep.Procs)
	case rep.Connected != 30 || rep.ConnectFailures != 10 || rep.ConnectErrors[refusedInURL] != 10 || len(rep.ConnectErrors) != 1:
		t.Errorf("connected %d, failed %d: %v", rep.Connected, rep.ConnectFailures, rep.ConnectErrors)
	case rep.Published == 0 || rep.Accepted != rep.Published:
		t.Errorf("published %d, accepted %d", rep.Published, rep.Accepted)
	// 10 subscribers on each of bench:0-2, none on bench:3: 3/4 of the
	// events reach 10 each (the run starts at seq 0, whole rounds and a rest).
	case rep.Expected != expectedOver(rep.Published, []int64{10, 10, 10, 0}) || rep.Received != rep.Expected || rep.Lost != 0:
		t.Errorf("expected %d, received %d, lost %d", rep.Expected, rep.Received, rep.Lost)
	case rep.Disconnects != 0 || rep.OutOfOrder != 0 || rep.Generator.UnrecognisedFrames != 0:
		t.Errorf("disconnects %d %v, out of order %d, unrecognised %d", rep.Disconnects, rep.DisconnectReasons,
			rep.OutOfOrder, rep.Generator.UnrecognisedFrames)
	case f.commands.Load() != 0:
		t.Errorf("%d commands sent: URL mode sends none", f.commands.Load())
	case rep.OK():
		t.Error("a run with refused connections must not be OK")
	}
	f.mu.Lock()
	queries := append([]string(nil), f.queries...)
	f.mu.Unlock()
	want := regexp.MustCompile(`^channels=bench:[0-3]$`)
	if len(queries) != 40 {
		t.Errorf("%d upgrades, want 40", len(queries))
	}
	for _, q := range queries {
		if !want.MatchString(q) {
			t.Errorf("upgrade query %q, want channels=bench:N", q)
		}
	}
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil || !strings.Contains(out.String(), `"subscribe_in_url": true`) {
		t.Errorf("JSON report without \"subscribe_in_url\": true (%v)", err)
	}
	var table strings.Builder
	_ = rep.WriteTable(&table)
	if !strings.Contains(table.String(), "channels in the upgrade URL") {
		t.Errorf("the table does not say how the connections subscribed:\n%s", table.String())
	}
}

// expectedOver is the deliveries owed for events 0..n-1 spread round-robin
// over channels with the given subscriber counts.
func expectedOver(n int64, subs []int64) int64 {
	var sum int64
	for seq := range n {
		sum += subs[seq%int64(len(subs))]
	}
	return sum
}

// TestReportWithoutSubscribeInURL: without the flag the JSON report has no
// "subscribe_in_url" key and the table no row for it (output unchanged).
func TestReportWithoutSubscribeInURL(t *testing.T) {
	rep := &Report{Conns: 1}
	var out bytes.Buffer
	if err := rep.WriteJSON(&out); err != nil || strings.Contains(out.String(), "subscribe_in_url") {
		t.Errorf("JSON %s (%v)", out.String(), err)
	}
	var table strings.Builder
	_ = rep.WriteTable(&table)
	if strings.Contains(table.String(), "upgrade URL") {
		t.Errorf("table:\n%s", table.String())
	}
}

// TestWithChannels: the parameter joins an existing query, channel names
// keep their ':' and anything a query would misread is escaped.
func TestWithChannels(t *testing.T) {
	for _, tc := range []struct {
		path     string
		channels []string
		want     string
	}{
		{"/ws", []string{"bench:7"}, "/ws?channels=bench:7"},
		{"/ws?x=1", []string{"bench:1", "bench:2"}, "/ws?x=1&channels=bench:1,bench:2"},
		{"/", []string{"a+b&c=d", "e,f"}, "/?channels=a%2Bb%26c%3Dd,e%2Cf"},
	} {
		if got := withChannels(tc.path, tc.channels); got != tc.want {
			t.Errorf("withChannels(%q, %q) = %q, want %q", tc.path, tc.channels, got, tc.want)
		}
	}
}

// TestAwaitSubscribedInURL: the wait ends when every channel has its
// subscribed frame (welcome, other channels, pings and frames that are not
// JSON skipped); an unsubscribed frame with a code, an error or a close
// fails it; a welcome followed by silence says what is probably wrong.
func TestAwaitSubscribedInURL(t *testing.T) {
	welcome := `{"type":"welcome","connection_id":"x"}`
	for _, tc := range []struct {
		name     string
		channels []string
		frames   []string // "PING" is a ping frame, "CLOSE" a close 4001
		wantErr  error
		wantText string
	}{
		{name: "one channel", channels: []string{"bench:1"},
			frames: []string{welcome, `{"type":"subscribed","channel":"bench:1","offset":0}`}},
		{name: "two channels, a ping, noise", channels: []string{"bench:1", "bench:2"},
			frames: []string{welcome, "PING", `{"type":"subscribed","channel":"bench:2"}`, `not json`,
				`{"type":"unsubscribed","channel":"bench:9"}`, `{"type":"subscribed","channel":"bench:1"}`}},
		{name: "refused", channels: []string{"bench:1", "bench:2"},
			frames: []string{welcome, `{"type":"subscribed","channel":"bench:1"}`,
				`{"type":"unsubscribed","channel":"bench:2","code":"forbidden","message":"channel not allowed by token"}`},
			wantErr: ErrSubscribe, wantText: "unsubscribed forbidden: channel not allowed by token"},
		{name: "error", channels: []string{"bench:1"},
			frames:  []string{`{"type":"error","code":"rate_limited","message":"x"}`},
			wantErr: ErrSubscribe, wantText: "rate_limited"},
		{name: "closed", channels: []string{"bench:1"}, frames: []string{welcome, "CLOSE"}, wantText: "close 4001"},
		{name: "welcome only", channels: []string{"bench:1"}, frames: []string{welcome},
			wantText: "does the server take channels in the URL?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cn, sn := net.Pipe()
			defer cn.Close()
			pong := make(chan string, 1)
			go func() {
				defer sn.Close()
				for _, f := range tc.frames {
					switch f {
					case "PING":
						_ = ws.WriteFrame(sn, ws.NewPingFrame([]byte("hb")))
						fr, _ := ws.ReadFrame(sn)
						if fr.Header.Masked {
							ws.Cipher(fr.Payload, fr.Header.Mask, 0)
						}
						if fr.Header.OpCode != ws.OpPong {
							fr.Payload = append([]byte("not a pong: "), fr.Payload...)
						}
						pong <- string(fr.Payload)
					case "CLOSE":
						_ = ws.WriteFrame(sn, ws.NewCloseFrame(ws.NewCloseFrameBody(4001, "slow")))
					default:
						_ = wsutil.WriteServerMessage(sn, ws.OpText, []byte(f))
					}
				}
				_, _ = sn.Read(make([]byte, 1)) // hold the pipe open until the client is done
			}()
			_ = cn.SetDeadline(time.Now().Add(300 * time.Millisecond))
			c := &client{nc: cn, fr: newFrameReader(cn, 1024)}
			err := c.awaitSubscribedInURL(tc.channels)
			if tc.wantErr == nil && tc.wantText == "" {
				if err != nil {
					t.Fatalf("err %v", err)
				}
			} else if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("err %v, want %v containing %q", err, tc.wantErr, tc.wantText)
			}
			if strings.Contains(strings.Join(tc.frames, " "), "PING") {
				if p := <-pong; p != "hb" {
					t.Errorf("pong %q", p)
				}
			}
		})
	}
}

// TestCentrifugoConnectSubs: with SubscribeInURL the channel travels in the
// connect command's subs and no subscribe command follows; a channel the
// server leaves out of the reply's subs (not allowed) fails the connection.
func TestCentrifugoConnectSubs(t *testing.T) {
	f := startFakeCentrifugo(t)
	f.refuse = map[string]bool{"bench:1": true}
	cfg := f.config(20, 2, 200, 1)
	cfg.SubscribeInURL = true
	rep, err := Run(context.Background(), cfg, Options{Launcher: pipeLauncher{}, Progress: logWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	logReport(t, rep)
	const refused = "subscribe refused: centrifugo connect reply without the requested channel in its subs " +
		"(not allowed for client subscription?)"
	switch {
	case !rep.SubscribeInURL:
		t.Error("report without subscribe_in_url")
	case rep.Connected != 10 || rep.ConnectFailures != 10 || rep.ConnectErrors[refused] != 10:
		t.Errorf("connected %d, failed %d: %v", rep.Connected, rep.ConnectFailures, rep.ConnectErrors)
	case rep.Published == 0 || rep.Expected != expectedOver(rep.Published, []int64{10, 0}):
		t.Errorf("published %d, expected %d", rep.Published, rep.Expected)
	case rep.Received != rep.Expected || rep.Lost != 0 || rep.Disconnects != 0 || rep.Generator.UnrecognisedFrames != 0:
		t.Errorf("received %d of %d, disconnects %d %v, unrecognised %d", rep.Received, rep.Expected,
			rep.Disconnects, rep.DisconnectReasons, rep.Generator.UnrecognisedFrames)
	case f.subscribeCmds.Load() != 0:
		t.Errorf("%d subscribe commands: connect subs need none", f.subscribeCmds.Load())
	}
}

// TestCentrifugoConnectCmdSubs: the connect command with subs is the JSON
// of Centrifugo's ConnectRequest (subs: channel -> SubscribeRequest).
func TestCentrifugoConnectCmdSubs(t *testing.T) {
	var cmd struct {
		ID      int `json:"id"`
		Connect struct {
			Token string                     `json:"token"`
			Subs  map[string]json.RawMessage `json:"subs"`
		} `json:"connect"`
	}
	if err := json.Unmarshal(centrifugoConnectCmd("a.b.c", "bench:1", "bench:2"), &cmd); err != nil ||
		cmd.ID != centrifugoConnectID || cmd.Connect.Token != "a.b.c" || len(cmd.Connect.Subs) != 2 ||
		string(cmd.Connect.Subs["bench:1"]) != "{}" || string(cmd.Connect.Subs["bench:2"]) != "{}" {
		t.Errorf("connect %+v %v", cmd, err)
	}
	if bytes.Contains(centrifugoConnectCmd("t"), []byte("subs")) {
		t.Error("subs without channels")
	}
}
