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

// centrifugoConnectCmd is the first message of a connection.
func centrifugoConnectCmd(token string) []byte {
	return []byte(`{"id":` + strconv.Itoa(centrifugoConnectID) + `,"connect":{"token":"` + token + `"}}`)
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
func (w *worker) centrifugoSubscribe(c *client, channel int) error {
	if err := writeClientFrame(c.nc, ws.OpText, centrifugoConnectCmd(w.spec.Token)); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := c.awaitCentrifugoReply(centrifugoConnectID); err != nil {
		return fmt.Errorf("await connected: %w", err)
	}
	if err := writeClientFrame(c.nc, ws.OpText, centrifugoSubscribeCmd(channel)); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := c.awaitCentrifugoReply(centrifugoSubscribeID); err != nil {
		return fmt.Errorf("await subscribed: %w", err)
	}
	return nil
}

// awaitCentrifugoReply reads until the reply to command id, answering
// pings on the way. A frame may hold several messages, one per line. This
// is the connection phase, so it decodes JSON.
func (c *client) awaitCentrifugoReply(id uint32) error {
	for {
		h, p, err := c.fr.next()
		if err != nil {
			return err
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := writeClientFrame(c.nc, ws.OpPong, p); err != nil {
				return err
			}
			continue
		case ws.OpClose:
			return closeError(p)
		case ws.OpText:
		default:
			continue
		}
		// The whole frame is handled: a ping may follow the reply in it.
		done, err := false, error(nil)
		for line := range bytes.Lines(p) {
			d, lerr := c.centrifugoReplyLine(bytes.TrimSpace(line), id)
			done, err = done || d, cmp.Or(err, lerr)
		}
		if done || err != nil {
			return err
		}
	}
}

// centrifugoReplyLine handles one message while awaiting reply id: done
// when it is that reply (err is then its error, if any).
func (c *client) centrifugoReplyLine(line []byte, id uint32) (done bool, err error) {
	if bytes.Equal(line, centrifugoPing) {
		return false, writeClientFrame(c.nc, ws.OpText, centrifugoPing)
	}
	var r centrifugoReply
	if len(line) == 0 || json.Unmarshal(line, &r) != nil || r.ID != id {
		return false, nil
	}
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
