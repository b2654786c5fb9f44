package fanoutd

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fanoutd/fanoutd/config"
)

// TestReservedChannels: names under "fanoutd." are the daemon's own. A
// token's "*" or prefix patterns (and public_channels) never reach them;
// only a token that names the channel exactly, as the status page's does,
// reads it. No publisher writes them: the publish API answers 400 with a
// clear error, and the status page's counters keep coming from the daemon.
func TestReservedChannels(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Status.Enabled = true
		c.Auth.PublicChannels = []string{"*"}
	})
	for _, pattern := range []string{"*", "fanoutd.*", "fanoutd.st*", "f*"} {
		w := d.dial(token(t, "ann", pattern))
		w.send(`{"action":"subscribe","channel":"fanoutd.status","id":1}`)
		if m := w.next(); m["type"] != "error" || m["code"] != "forbidden" {
			t.Errorf("token with %q subscribing to fanoutd.status: %v, want forbidden", pattern, m)
		}
		w.subscribe("news") // the pattern still works elsewhere
	}

	code, body := d.post("application/json", `{"channel":"fanoutd.status","type":"status","payload":{"connections":999999}}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "reserved") {
		t.Fatalf("publish to fanoutd.status: %d %s, want 400 naming the reservation", code, body)
	}
	code, body = d.post("application/json", `{"channel":"fanoutd.anything","type":"x"}`)
	if code != http.StatusBadRequest || !strings.Contains(body, "reserved") {
		t.Fatalf("publish under fanoutd.: %d %s, want 400", code, body)
	}
	if code, _ := d.post("application/json", `{"channel":"fanoutdX.status","type":"x"}`); code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("publish to a name that only starts like the reserved prefix: %d", code)
	}

	// The status page's own token names the channel and reads it.
	w := d.dial(d.srv.statusToken(*d.srv.live.Load()))
	w.subscribe("fanoutd.status")
	if m := w.next(); m["type"] != "status" || m["channel"] != "fanoutd.status" {
		t.Fatalf("status page subscription: %v, want a status event", m)
	}
}
