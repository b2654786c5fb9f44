package redisbroker

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// redisReply is an error reply as go-redis returns one.
type redisReply string

func (e redisReply) Error() string { return string(e) }
func (redisReply) RedisError()     {}

// TestClassify: only a publish that may have run is outcome-unknown.
func TestClassify(t *testing.T) {
	cases := []struct {
		name    string
		err     error
		unknown bool
	}{
		{"error reply", redisReply("NOAUTH Authentication required."), false},
		{"read-only replica", redisReply("READONLY You can't write against a read only replica."), false},
		{"refused dial", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, false},
		{"client closed", redis.ErrClosed, false},
		{"no free connection", errors.New(errPoolTimeout), false},
		{"read timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{"connection dropped", io.EOF, true},
		{"write broken", &net.OpError{Op: "write", Err: errors.New("broken pipe")}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := classify(tc.err)
			var u interface{ OutcomeUnknown() bool }
			got := errors.As(err, &u) && u.OutcomeUnknown()
			if got != tc.unknown {
				t.Errorf("classify(%v) = %v, outcome unknown %v, want %v", tc.err, err, got, tc.unknown)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("classify(%v) does not wrap it", tc.err)
			}
		})
	}
}

// TestLinger: a pipeline waits for more only while other publishes are
// pending, and never for a lone publish.
func TestLinger(t *testing.T) {
	cases := []struct {
		name            string
		pending, queued int
		want            int
	}{
		{"lone publish", 1, 0, 1},
		{"only the batch pending", 1, 2, 1},
		{"others queued", 3, 2, 3},
		{"others pending, none queued", 4, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := &Broker{queue: make(chan *pubReq, 8)}
			b.pending.Store(int64(tc.pending))
			for range tc.queued {
				b.queue <- &pubReq{}
			}
			if got := len(b.linger([]*pubReq{{}})); got != tc.want {
				t.Errorf("linger took a batch of %d, want %d", got, tc.want)
			}
		})
	}
}
