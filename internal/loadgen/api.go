package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// apiClient speaks the daemon's publish API over its Unix socket with one
// keep-alive connection: the publisher sends one request at a time, which
// keeps events in order per channel and costs the daemon no connection
// setup per request.
type apiClient struct {
	hc *http.Client
}

func newAPIClient(socket string) *apiClient {
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socket)
		},
		MaxIdleConnsPerHost: 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &apiClient{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func (a *apiClient) close() { a.hc.CloseIdleConnections() }

// daemonStats is the part of GET /v1/stats the report uses.
type daemonStats struct {
	PID         int    `json:"pid"`
	Connections int64  `json:"connections"`
	Goroutines  int    `json:"goroutines"`
	Published   uint64 `json:"published"`
	Delivered   uint64 `json:"delivered"`
	Dropped     uint64 `json:"dropped"`
}

func (a *apiClient) stats(ctx context.Context) (daemonStats, error) {
	var st daemonStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://fanoutd/v1/stats", nil)
	if err != nil {
		return st, fmt.Errorf("%w: stats request: %w", ErrPublishAPI, err)
	}
	body, err := a.do(req)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("%w: stats: %w", ErrPublishAPI, err)
	}
	return st, nil
}

// publish posts one event or a JSON array of events and returns the
// daemon's "published" count.
func (a *apiClient) publish(ctx context.Context, body []byte) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://fanoutd/v1/publish", bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: publish request: %w", ErrPublishAPI, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.do(req)
	if err != nil {
		return 0, err
	}
	var r struct {
		Published int64 `json:"published"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		return 0, fmt.Errorf("%w: publish answer: %w", ErrPublishAPI, err)
	}
	return r.Published, nil
}

// do runs req and returns the body of a 200; any other status wraps
// ErrPublishAPI with the status and the start of the body.
func (a *apiClient) do(req *http.Request) ([]byte, error) {
	resp, err := a.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrPublishAPI, req.Method, req.URL.Path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrPublishAPI, req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: %s %s: HTTP %d: %.200s", ErrPublishAPI, req.Method, req.URL.Path,
			resp.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}
