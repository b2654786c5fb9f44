package fanoutd

import (
	"net"
	"net/http"
	"testing"

	"github.com/fanoutd/fanoutd/config"
)

// TestStatusPageChecksHost: the status page mints a token, so a page on
// another site that rebinds its own name to the daemon's address (DNS
// rebinding) must not get it: a Host that is not one of the listener's own
// names is refused 421 and carries no token.
func TestStatusPageChecksHost(t *testing.T) {
	d := startDaemon(t, func(c *config.Config) {
		c.Status.Enabled = true
		c.Status.AllowedHosts = []string{"Status.Example.com"}
	})
	_, port := splitHostPort(t, d.addr)
	cases := []struct {
		host string
		want int
	}{
		{d.addr, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"127.0.0.1", http.StatusOK},
		{"status.example.com:" + port, http.StatusOK},
		{"status.example.com.:" + port, http.StatusOK},
		{"evil.example:" + port, http.StatusMisdirectedRequest},
		{"evil.example", http.StatusMisdirectedRequest},
		{"localhost.evil.example:" + port, http.StatusMisdirectedRequest},
		{"10.1.2.3:" + port, http.StatusMisdirectedRequest},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(http.MethodGet, "http://"+d.addr+"/", nil)
		req.Host = tc.host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(resp)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Host %q: status %d, want %d", tc.host, resp.StatusCode, tc.want)
		}
		if tc.want != http.StatusOK && len(body) > 200 {
			t.Errorf("Host %q: refusal has a %d-byte body", tc.host, len(body))
		}
	}
}

func splitHostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}
