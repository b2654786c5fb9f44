package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Connect-time subscriptions (Spec.SubscribeInURL, --subscribe-in-url):
// the connection names its channels in the upgrade URL,
// ws://host/ws?channels=a,b (PROTOCOL.md, the syntax of the SSE route),
// and sends no subscribe command. The server answers the upgrade with the
// welcome and one {"type":"subscribed","channel":…} frame per channel (no
// "id": no command was sent), or {"type":"unsubscribed","channel":…,
// "code":…,"message":…} for a channel it refuses.

// withChannels returns the request target path with channels added as one
// comma-separated "channels" parameter. Each name is query-escaped but
// keeps its ':' (bench:7, as PROTOCOL.md writes channel lists): a query may
// hold ':' unescaped, and any parser reads both spellings.
func withChannels(path string, channels []string) string {
	var b strings.Builder
	b.WriteString(path)
	if strings.Contains(path, "?") {
		b.WriteByte('&')
	} else {
		b.WriteByte('?')
	}
	b.WriteString("channels=")
	for i, ch := range channels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ReplaceAll(url.QueryEscape(ch), "%3A", ":"))
	}
	return b.String()
}

// subscribeInURL upgrades with channels in the URL and waits until the
// server confirmed every one of them.
func (w *worker) subscribeInURL(c *client, channels []string) error {
	t := w.spec.Target
	t.Path = withChannels(t.Path, channels)
	if err := handshake(c.nc, c.fr.br, t, w.spec.Token, w.spec.Deflate); err != nil {
		return err
	}
	return c.awaitSubscribedInURL(channels)
}

// controlFrame is the part of a server control message that the
// connection phase looks at (it decodes JSON: not the receive path).
type controlFrame struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// awaitSubscribedInURL reads until a "subscribed" frame arrived for each
// of channels, answering pings on the way. An "unsubscribed" frame with a
// code (forbidden, invalid_channel, too_many_subscriptions) or an "error"
// is a refusal: the connection fails with ErrSubscribe, as when a
// subscribe command is refused.
func (c *client) awaitSubscribedInURL(channels []string) error {
	pending := make(map[string]bool, len(channels))
	for _, ch := range channels {
		pending[ch] = true
	}
	welcomed := false
	for len(pending) > 0 {
		p, err := c.nextText()
		if err != nil {
			var ne net.Error
			if welcomed && len(pending) == len(channels) && errors.As(err, &ne) && ne.Timeout() {
				// A server without connect-time subscriptions ignores the
				// parameter: a welcome, then silence.
				return fmt.Errorf("await subscribed: welcome but no subscribed frame (does the server take channels in the URL?): %w", err)
			}
			return fmt.Errorf("await subscribed: %w", err)
		}
		var m controlFrame
		if json.Unmarshal(p, &m) != nil {
			continue
		}
		switch m.Type {
		case "welcome":
			welcomed = true
		case "subscribed":
			delete(pending, m.Channel)
		case "unsubscribed":
			if m.Code != "" {
				// The reason without the channel's name, so that equal
				// refusals count together in the report.
				return fmt.Errorf("%w: unsubscribed %s: %s", ErrSubscribe, m.Code, m.Message)
			}
		case "error":
			return fmt.Errorf("%w: %s", ErrSubscribe, p)
		}
	}
	return nil
}
