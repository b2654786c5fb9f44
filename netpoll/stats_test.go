package netpoll

import (
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestRefusalsAndCloseCodesAreCounted: each handshake the transport
// refuses counts under its reason, the Handler's refusals only in
// Rejected, and every close frame under its code.
func TestRefusalsAndCloseCodesAreCounted(t *testing.T) {
	srv, h, addr := startServer(t, Options{MaxHeaderBytes: 2048})
	for _, req := range []string{
		upgradeRequest("/ws", "X-Big: "+strings.Repeat("a", 4096)+"\r\n"),
		upgradeRequest("/elsewhere"),
		strings.Replace(upgradeRequest("/ws"), "Version: 13", "Version: 8", 1),
		upgradeRequest("/ws", "Authorization: deny\r\n"),
	} {
		c := dialRaw(t, addr)
		c.Write([]byte(req))
		c.ReadHead()
	}
	c, _ := connect(t, addr)
	h.session(t, 0).c.Close(CloseGoingAway, "")
	if code := c.ReadClose(); code != CloseGoingAway {
		t.Fatalf("close %d", code)
	}
	c.Write(frame(true, ws.OpClose, closeBody(4999, ""), true)) // the answer: the server has sent its close already
	c2, _ := connect(t, addr)
	c2.Write(frame(true, ws.OpClose, closeBody(4999, ""), true))
	if code := c2.ReadClose(); code != 4999 {
		t.Fatalf("echo %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.CloseCodesSent()[0] == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	st := srv.Stats()
	if st.RejectedHeaderTooLarge != 1 || st.RejectedNotFound != 1 || st.RejectedMalformed != 1 || st.Rejected != 4 {
		t.Fatalf("refusals: %+v", st)
	}
	if sent := srv.CloseCodesSent(); sent[CloseGoingAway] != 1 || sent[0] != 1 || len(sent) != 2 {
		t.Fatalf("close codes sent: %v, want one 1001 and the echoed 4999 under 0", sent)
	}
}
