package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/fanoutd/fanoutd/ipc"
)

// apiClient speaks the daemon's publish API over its Unix socket through
// the project's own Go client, which keeps its connection alive: the
// publisher sends one request at a time, which keeps events in order per
// channel and costs the daemon no connection setup per request.
type apiClient struct {
	c *ipc.Client
}

// requestTimeout bounds one publish or stats request.
const requestTimeout = 10 * time.Second

// serverAPI is what a run asks of the server besides its WebSockets. The
// run's goroutine calls stats and close; the publisher's goroutine calls
// publish, one request at a time.
type serverAPI interface {
	publishAPI
	// stats reads the server's counters; errNoStats when it has none.
	stats(ctx context.Context) (daemonStats, error)
	// close releases the kept-alive connection after the run.
	close()
}

var _ serverAPI = (*apiClient)(nil)

func newAPIClient(socket string) *apiClient { return &apiClient{c: ipc.NewClient(socket)} }

func (a *apiClient) close() { a.c.Close() }

// daemonStats is the part of GET /v1/stats the report uses.
type daemonStats struct {
	PID         int    `json:"pid"`
	Connections int64  `json:"connections"`
	Goroutines  int    `json:"goroutines"`
	Published   uint64 `json:"published"`
	Delivered   uint64 `json:"delivered"`
	Dropped     uint64 `json:"dropped"`
	Compressed  uint64 `json:"compressed_events"`
	Transport   struct {
		BytesOut uint64 `json:"bytes_out"`
		Deflate  uint64 `json:"deflate_upgraded"`
	} `json:"transport"`
}

func (a *apiClient) stats(ctx context.Context) (daemonStats, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	var st daemonStats
	if err := a.c.StatsInto(ctx, &st); err != nil {
		return st, fmt.Errorf("%w: stats: %w", ErrPublishAPI, err)
	}
	return st, nil
}

// publish posts one event or a JSON array of events, already encoded, and
// returns the daemon's "published" count.
func (a *apiClient) publish(ctx context.Context, body []byte) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	n, err := a.c.PublishRaw(ctx, body)
	if err != nil {
		return int64(n), fmt.Errorf("%w: publish: %w", ErrPublishAPI, err)
	}
	return int64(n), nil
}
