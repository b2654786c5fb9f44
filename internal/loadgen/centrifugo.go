package loadgen

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"
)

// Command ids of the two commands a Centrifugo connection sends; a reply
// carries the id of its command, pushes carry none.
const (
	centrifugoConnectID   = 1
	centrifugoSubscribeID = 2
)

// centrifugoPing is Centrifugo's application-level ping, an empty command.
// A v2 client answers each with the same empty object as its pong; the
// server disconnects a client that does not (client.pong_timeout).
var centrifugoPing = []byte("{}")

// centrifugoConnectCmd is the first message of a connection. subs, when
// any, are subscriptions requested in the connect command itself
// (ConnectRequest.subs in Centrifugo's client.proto: channel ->
// SubscribeRequest, here empty): the connect-time equivalent of fanoutd's
// ?channels= for --subscribe-in-url.
func centrifugoConnectCmd(token string, subs ...string) []byte {
	b := []byte(`{"id":` + strconv.Itoa(centrifugoConnectID) + `,"connect":{"token":"` + token + `"`)
	if len(subs) > 0 {
		b = append(b, `,"subs":{`...)
		for i, ch := range subs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `"`+ch+`":{}`...)
		}
		b = append(b, '}')
	}
	return append(b, "}}"...)
}

// centrifugoSubscribeCmd subscribes to channel.
func centrifugoSubscribeCmd(channel int) []byte {
	return []byte(`{"id":` + strconv.Itoa(centrifugoSubscribeID) + `,"subscribe":{"channel":"` +
		ChannelName(channel) + `"}}`)
}

// centrifugoReply is the part of a reply the handshake looks at.
type centrifugoReply struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	// Connect is a connect reply's result; its Subs are the subscriptions
	// made at connect time (ConnectResult.subs: channel -> SubscribeResult).
	Connect *struct {
		Subs map[string]json.RawMessage `json:"subs"`
	} `json:"connect"`
}

// mintCentrifugoToken signs a connection JWT with only sub and exp (and
// iat): a "channels" claim would mean server-side subscriptions to
// Centrifugo, which is not what the bench measures.
func mintCentrifugoToken(key []byte, ttl time.Duration, now time.Time) (string, error) {
	claims := jwt.RegisteredClaims{
		Subject:   "fanout-bench",
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
}

// centrifugoSubscribe runs a connection's Centrifugo handshake after the
// upgrade: connect with the token, then subscribe, each awaited by its id.
// With SubscribeInURL the channel goes in the connect command's subs
// instead, and no subscribe command follows.
func (w *worker) centrifugoSubscribe(c *client, channel int) error {
	if w.spec.SubscribeInURL {
		return w.centrifugoConnectSubs(c, ChannelName(channel))
	}
	if err := writeClientFrame(c.nc, ws.OpText, centrifugoConnectCmd(w.spec.Token)); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if _, err := c.awaitCentrifugoReply(centrifugoConnectID); err != nil {
		return fmt.Errorf("await connected: %w", err)
	}
	if err := writeClientFrame(c.nc, ws.OpText, centrifugoSubscribeCmd(channel)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if _, err := c.awaitCentrifugoReply(centrifugoSubscribeID); err != nil {
		return fmt.Errorf("await subscribed: %w", err)
	}
	return nil
}

// centrifugoConnectSubs connects with channels in the connect command's
// subs. Centrifugo's connecting handler (OnClientConnecting) makes them
// server-side subscriptions when the connection token is valid and the
// client could subscribe to them itself (a namespace with
// allow_subscribe_for_client, as bench/compare.sh configures; no other
// setting), and answers in the connect reply's subs; a channel it does not
// allow is left out of them silently, so a missing channel is this mode's
// refusal (a channel of an unknown namespace disconnects instead).
func (w *worker) centrifugoConnectSubs(c *client, channels ...string) error {
	if err := writeClientFrame(c.nc, ws.OpText, centrifugoConnectCmd(w.spec.Token, channels...)); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	r, err := c.awaitCentrifugoReply(centrifugoConnectID)
	if err != nil {
		return fmt.Errorf("await connected: %w", err)
	}
	for _, ch := range channels {
		if r.Connect == nil || r.Connect.Subs[ch] == nil {
			return fmt.Errorf("%w: centrifugo connect reply without the requested channel in its subs "+
				"(not allowed for client subscription?)", ErrSubscribe)
		}
	}
	return nil
}

// awaitCentrifugoReply reads until the reply to command id, answering
// pings on the way, and returns that reply. A frame may hold several
// messages, one per line. This is the connection phase, so it decodes JSON.
func (c *client) awaitCentrifugoReply(id uint32) (centrifugoReply, error) {
	for {
		p, err := c.nextText()
		if err != nil {
			return centrifugoReply{}, err
		}
		// The whole frame is handled: a ping may follow the reply in it.
		var reply centrifugoReply
		done, err := false, error(nil)
		for line := range bytes.Lines(p) {
			d, lerr := c.centrifugoReplyLine(bytes.TrimSpace(line), id, &reply)
			done, err = done || d, cmp.Or(err, lerr)
		}
		if done || err != nil {
			return reply, err
		}
	}
}

// centrifugoReplyLine handles one message while awaiting reply id: done
// when it is that reply, stored in *reply (err is then its error, if any).
func (c *client) centrifugoReplyLine(line []byte, id uint32, reply *centrifugoReply) (done bool, err error) {
	if bytes.Equal(line, centrifugoPing) {
		return false, writeClientFrame(c.nc, ws.OpText, centrifugoPing)
	}
	var r centrifugoReply
	if len(line) == 0 || json.Unmarshal(line, &r) != nil || r.ID != id {
		return false, nil
	}
	*reply = r
	if r.Error != nil {
		return true, fmt.Errorf("%w: centrifugo error %d: %s", ErrSubscribe, r.Error.Code, r.Error.Message)
	}
	return true, nil
}

// centrifugoText is the receive path of a Centrifugo text frame: each line
// is a push (counted as an event when it holds a bench payload), a ping
// (answered), or something else (counted as other). No JSON decoding.
func (w *worker) centrifugoText(c *client, p []byte) error {
	for len(p) > 0 {
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		if bytes.Equal(line, centrifugoPing) {
			if err := writeClientFrame(c.nc, ws.OpText, centrifugoPing); err != nil {
				return err
			}
			w.pongs.Add(1)
			continue
		}
		if len(line) > 0 {
			w.event(c, line)
		}
	}
	return nil
}
