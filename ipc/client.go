package ipc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// maxResponseBytes bounds what the client reads of a response; the API's
// largest answer is a list of invalid events, itself bounded by the request.
const maxResponseBytes = 4 << 20

// Event is one event of Client.PublishBatch, in its wire form. An empty
// Payload means the event has none.
type Event struct {
	Channel string          `json:"channel"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// IdempotencyKey, when set, makes a retry of this event within the
	// daemon's window return the first publish's position instead of
	// publishing it again: retry after a timeout safely.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// Position is where a published event sits in its channel: the offset
// within the channel's epoch. Duplicate marks an event whose idempotency key
// was already published; the position is the original one.
type Position struct {
	Channel   string `json:"channel"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Client publishes to a fanoutd daemon. Applications create one per daemon
// and share it: its methods are safe for concurrent use and reuse
// connections. Deadlines come from the context passed to each call. Call
// Close when done so idle connections do not outlive the client.
type Client struct {
	base string
	auth string // Authorization header value, empty on the Unix socket
	hc   *http.Client
}

// NewClient returns a client for the daemon's Unix socket at socketPath.
// Nothing is dialled until the first call.
func NewClient(socketPath string) *Client {
	dialer := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
	}
	// The host is never resolved: DialContext ignores it.
	return &Client{base: "http://fanoutd", hc: &http.Client{Transport: tr}}
}

// NewTCPClient returns a client for the daemon's TCP API at baseURL (for
// example "http://127.0.0.1:8089"), sending apiKey as a bearer token.
// Environment proxies are not used: the key must go straight to the daemon.
func NewTCPClient(baseURL, apiKey string) *Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:         dialer.DialContext,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     30 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		ForceAttemptHTTP2:   true,
	}
	return &Client{
		base: strings.TrimRight(baseURL, "/"),
		auth: "Bearer " + apiKey,
		hc:   &http.Client{Transport: tr},
	}
}

// Close releases the client's idle connections. Calls in flight finish;
// the client stays usable and would dial again.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Publish sends one event. payload is marshalled with encoding/json, except
// that a json.RawMessage or []byte is taken as JSON text as it is (and must
// be valid, or ErrInvalidPayload is returned without sending); nil means no
// payload. A non-2xx answer is returned as *APIError.
func (c *Client) Publish(ctx context.Context, channel, eventType string, payload any) error {
	raw, err := marshalPayload(payload)
	if err != nil {
		return err
	}
	body, err := json.Marshal(Event{Channel: channel, Type: eventType, Payload: raw})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	_, err = c.publish(ctx, body)
	return err
}

// PublishBatch sends events as one all-or-nothing-validated batch and
// returns how many were published. On an *APIError the count is its
// Published field: the events before that index went out, the rest did not.
// An empty batch sends nothing and returns 0, nil.
func (c *Client) PublishBatch(ctx context.Context, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	body, err := json.Marshal(events)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	return c.publish(ctx, body)
}

// Stats returns the daemon's GET /v1/stats snapshot; numbers are float64 as
// encoding/json decodes them into any.
func (c *Client) Stats(ctx context.Context) (map[string]any, error) {
	var stats map[string]any
	if err := c.StatsInto(ctx, &stats); err != nil {
		return nil, err
	}
	return stats, nil
}

// StatsInto decodes GET /v1/stats into out (a pointer to a struct with the
// fields the caller needs, or a map).
func (c *Client) StatsInto(ctx context.Context, out any) error {
	return c.do(ctx, http.MethodGet, "/v1/stats", nil, out)
}

// PublishRaw posts an already encoded body, one event object or a JSON
// array of them, for callers that build requests in a reused buffer (the
// load generator). It returns how many events were published; on an
// *APIError that is the count the daemon reported before failing.
func (c *Client) PublishRaw(ctx context.Context, body []byte) (int, error) {
	return c.publish(ctx, body)
}

// PublishEvents is PublishBatch that also returns each event's position,
// in request order. On an *APIError the positions are nil and the error's
// Published field says how many events went out.
func (c *Client) PublishEvents(ctx context.Context, events []Event) ([]Position, error) {
	if len(events) == 0 {
		return nil, nil
	}
	body, err := json.Marshal(events)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	var out publishedBody
	if err := c.do(ctx, http.MethodPost, "/v1/publish", body, &out); err != nil {
		return nil, err
	}
	return out.Positions, nil
}

func (c *Client) publish(ctx context.Context, body []byte) (int, error) {
	// Only the count: the positions are skipped without being kept.
	var out struct {
		Published int `json:"published"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/publish", body, &out); err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) {
			return apiErr.Published, err
		}
		return 0, err
	}
	return out.Published, nil
}

func marshalPayload(payload any) (json.RawMessage, error) {
	switch p := payload.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return validJSON(p)
	case []byte:
		return validJSON(p)
	}
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPayload, err)
	}
	return raw, nil
}

func validJSON(b []byte) (json.RawMessage, error) {
	if len(b) == 0 {
		return nil, nil
	}
	if !json.Valid(b) {
		return nil, ErrInvalidPayload
	}
	return b, nil
}

// do runs one request and decodes a 2xx JSON answer into out; any other
// status becomes an *APIError. The body is read whole (bounded) so the
// connection can be reused.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("ipc: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newAPIError(resp.StatusCode, data)
	}
	if err != nil {
		return fmt.Errorf("ipc: %s %s: reading response: %w", method, path, err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("ipc: %s %s: decoding response: %w", method, path, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("ipc: building request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	req.Header.Set("Accept", "application/json")
	return req, nil
}
