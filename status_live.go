package fanoutd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"go.uber.org/zap"
)

// The status page updates itself over the daemon's own WebSocket: Run
// publishes the counters once a second to statusChannel (no history; its
// events count in the totals like any other), and the page subscribes
// with a short-lived token the page request mints for that channel only.
const (
	statusChannel  = "fanoutd.status"
	statusEvery    = time.Second
	statusTokenTTL = 10 * time.Minute
)

// statusEvent is what each status event carries.
type statusEvent struct {
	At            int64  `json:"at"` // Unix ms
	Connections   int64  `json:"connections"`
	Subscriptions int64  `json:"subscriptions"`
	Channels      int    `json:"channels"`
	Published     uint64 `json:"published"`
	Delivered     uint64 `json:"delivered"`
}

// publishStatus publishes the counters until ctx ends.
func (s *Server) publishStatus(ctx context.Context) {
	every(ctx, statusEvery, func() {
		n := s.node.Stats()
		b, _ := json.Marshal(statusEvent{At: s.now().UnixMilli(), Connections: n.Connections,
			Subscriptions: n.Subscriptions, Channels: n.Channels, Published: n.Published, Delivered: n.Delivered})
		if err := s.node.PublishReserved(ctx, statusChannel, "status", b); err != nil && ctx.Err() == nil {
			s.log.Debug("status event not published", zap.Error(err))
		}
	})
}

// statusToken mints the page's token for statusChannel; "" when the
// daemon has no HMAC key (asymmetric keys only): the page then falls back
// to reloading itself.
func (s *Server) statusToken(cfg config.Config) string {
	key := s.devKey
	if k, err := cfg.HMACKey(); err == nil {
		key = k
	}
	if len(key) < jwtauth.MinKeyBytes || !allowsHMAC(cfg.Auth.Algorithms) {
		return ""
	}
	tok, err := jwtauth.Mint(key, "fanoutd-status-page", []string{statusChannel}, statusTokenTTL, s.now())
	if err != nil {
		return ""
	}
	return tok
}

func newNonce() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawStdEncoding.EncodeToString(b[:])
}
