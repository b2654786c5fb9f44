package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
)

// errNoStats is the stats answer of a server API without a stats endpoint
// (Centrifugo's): the run then takes the pid from Config.PID and counts
// deliveries from its own workers.
var errNoStats = errors.New("server has no stats endpoint")

// centrifugoAPI publishes through Centrifugo's server HTTP API over TCP:
// POST /api/publish for one event, /api/batch for several, with the API key
// in X-API-Key. Its transport keeps one connection alive, and the publisher
// sends one request at a time, as it does to fanoutd.
type centrifugoAPI struct {
	base  string // http://127.x.y.z:port, no trailing slash
	key   string
	batch bool // Config.Batch > 1: bodies are {"commands":[…]} for /api/batch
	hc    *http.Client
}

var _ serverAPI = (*centrifugoAPI)(nil)

func newCentrifugoAPI(base, key string, batch int) *centrifugoAPI {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	return &centrifugoAPI{base: base, key: key, batch: batch > 1, hc: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

func (a *centrifugoAPI) close() { a.hc.CloseIdleConnections() }

func (a *centrifugoAPI) stats(context.Context) (daemonStats, error) { return daemonStats{}, errNoStats }

// centrifugoAnswer is the part of a publish or batch answer the publisher
// checks: an error for the request, or one reply per batched command.
type centrifugoAnswer struct {
	Error   *centrifugoError `json:"error"`
	Replies []struct {
		Error *centrifugoError `json:"error"`
	} `json:"replies"`
}

type centrifugoError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// publish posts body (built by appendCentrifugoBody) and returns how many
// of its events Centrifugo accepted.
func (a *centrifugoAPI) publish(ctx context.Context, body []byte) (int64, error) {
	path := "/api/publish"
	if a.batch {
		path = "/api/batch"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrPublishAPI, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", a.key)
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%w: publish: %w", ErrPublishAPI, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPublishBody))
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%w: publish: HTTP %d: %.200s %v", ErrPublishAPI, resp.StatusCode, raw, err)
	}
	return a.accepted(raw)
}

// accepted counts the events of an answer without an error.
func (a *centrifugoAPI) accepted(raw []byte) (int64, error) {
	var ans centrifugoAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return 0, fmt.Errorf("%w: publish answer: %w", ErrPublishAPI, err)
	}
	if ans.Error != nil {
		return 0, fmt.Errorf("%w: centrifugo error %d: %s", ErrPublishAPI, ans.Error.Code, ans.Error.Message)
	}
	if !a.batch {
		return 1, nil
	}
	var n int64
	var first *centrifugoError
	for _, r := range ans.Replies {
		if r.Error == nil {
			n++
		} else if first == nil {
			first = r.Error
		}
	}
	if first != nil {
		return n, fmt.Errorf("%w: centrifugo error %d: %s", ErrPublishAPI, first.Code, first.Message)
	}
	return n, nil
}

// appendCentrifugoBody appends the API body for events seq … seq+count-1:
// {"channel":…,"data":payload} when batch is false, else
// {"commands":[{"publish":{…}},…]}. The payload is fanoutd's, so the
// subscribers find "ts" and "seq" in the push the same way.
func appendCentrifugoBody(b []byte, batch bool, channels int, seq, count, ts int64, size int, json bool) []byte {
	if !batch {
		return appendCentrifugoPublish(b, ChannelOf(seq, channels), ts, seq, size, json)
	}
	b = append(b, `{"commands":[`...)
	for i := range count {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"publish":`...)
		b = appendCentrifugoPublish(b, ChannelOf(seq+i, channels), ts, seq+i, size, json)
		b = append(b, '}')
	}
	return append(b, `]}`...)
}

func appendCentrifugoPublish(b []byte, channel int, ts, seq int64, size int, json bool) []byte {
	b = append(b, `{"channel":"`+ChannelPrefix...)
	b = strconv.AppendInt(b, int64(channel), 10)
	b = append(b, `","data":`...)
	if json {
		b = appendJSONPayload(b, ts, seq, size)
	} else {
		b = appendPayload(b, ts, seq, size)
	}
	return append(b, '}')
}

// checkLoopbackHTTP accepts only an http:// URL whose host is an IPv4
// literal in 127.0.0.0/8 ("localhost" is taken as 127.0.0.1).
func checkLoopbackHTTP(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return fmt.Errorf("%w: --api-url %q: want http://127.x.y.z:port", ErrConfig, raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if a, err := netip.ParseAddr(host); err != nil || !a.Is4() || a.As4()[0] != 127 {
		return fmt.Errorf("%w: --api-url host %q", ErrNotLoopback, u.Hostname())
	}
	return nil
}
