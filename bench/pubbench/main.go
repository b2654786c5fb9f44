// Command pubbench measures the publish path over the Unix socket: how many
// publishes per second a daemon answers and how much of its CPU each costs
// (utime+stime from /proc/PID/stat across the run).
//
//	pubbench --socket S --pid P --mode http --conns 16 --duration 5s
//	pubbench --socket S --pid P --mode stream --duration 5s
//
// http: conns publishers, each on its own keep-alive connection, posting
// one single-event request after another (the next once the answer is in).
// stream: one publisher on POST /v1/publish/stream through ipc.Client's
// Stream, sending without waiting (bounded by its window). It prints one
// JSON object. The events go to channels nobody subscribes to, so what is
// measured is the request path, not delivery.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanoutd/fanoutd/internal/loadgen"
	"github.com/fanoutd/fanoutd/ipc"
)

type result struct {
	Label        string  `json:"label"`
	Mode         string  `json:"mode"`
	Conns        int     `json:"conns"`
	Events       int64   `json:"events"`
	Failed       int64   `json:"failed"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"events_per_second"`
	CPUUsPerEvnt float64 `json:"daemon_cpu_us_per_event"`
	CPUSeconds   float64 `json:"daemon_cpu_seconds"`
}

func main() {
	socket := flag.String("socket", "", "the daemon's publish socket")
	pid := flag.Int("pid", 0, "the daemon's process id, for its CPU time")
	mode := flag.String("mode", "http", "http or stream")
	conns := flag.Int("conns", 16, "http: concurrent publishers")
	duration := flag.Duration("duration", 5*time.Second, "how long to publish")
	label := flag.String("label", "", "copied into the output")
	flag.Parse()
	if *socket == "" || *pid == 0 {
		fmt.Fprintln(os.Stderr, "pubbench: --socket and --pid are required")
		os.Exit(2)
	}
	proc := loadgen.Proc{PID: *pid}
	cpu0, err := proc.CPUSeconds()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pubbench:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	start := time.Now()
	var ok, failed int64
	switch *mode {
	case "http":
		ok, failed = runHTTP(ctx, *socket, *conns)
	case "stream":
		ok, failed, err = runStream(ctx, *socket)
		*conns = 1
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pubbench:", err)
		os.Exit(1)
	}
	secs := time.Since(start).Seconds()
	cpu1, _ := proc.CPUSeconds()
	r := result{Label: *label, Mode: *mode, Conns: *conns, Events: ok, Failed: failed, Seconds: secs,
		PerSecond: float64(ok) / secs, CPUSeconds: cpu1 - cpu0}
	if ok > 0 {
		r.CPUUsPerEvnt = (cpu1 - cpu0) / float64(ok) * 1e6
	}
	_ = json.NewEncoder(os.Stdout).Encode(r)
}

// runHTTP runs conns publishers of single-event requests until ctx ends.
func runHTTP(ctx context.Context, socket string, conns int) (ok, failed int64) {
	var okN, failN atomic.Int64
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() {
			o, f := publishLoop(ctx, socket, i)
			okN.Add(o)
			failN.Add(f)
		})
	}
	wg.Wait()
	return okN.Load(), failN.Load()
}

func publishLoop(ctx context.Context, socket string, n int) (ok, failed int64) {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return 0, 1
	}
	defer conn.Close()
	body := `{"channel":"bench:` + strconv.Itoa(n) + `","type":"bench","payload":{"n":1,"s":"0123456789abcdef"}}`
	req := []byte("POST /v1/publish HTTP/1.1\r\nHost: fanoutd\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	br := bufio.NewReaderSize(conn, 4096)
	for ctx.Err() == nil {
		if _, err := conn.Write(req); err != nil {
			return ok, failed + 1
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return ok, failed + 1
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			ok++
		} else {
			failed++
		}
	}
	return ok, failed
}

// runStream publishes on one stream until ctx ends, then waits for the acks.
func runStream(ctx context.Context, socket string) (ok, failed int64, err error) {
	c := ipc.NewClient(socket)
	defer c.Close()
	var okN, failN atomic.Int64
	st, err := c.Stream(context.Background(), ipc.StreamOptions{OnAck: func(a ipc.StreamAck) {
		if a.Status == 0 {
			okN.Add(1)
		} else {
			failN.Add(1)
		}
	}})
	if err != nil {
		return 0, 0, err
	}
	payload := json.RawMessage(`{"n":1,"s":"0123456789abcdef"}`)
	ev := ipc.Event{Channel: "bench:stream", Type: "bench", Payload: payload}
	for ctx.Err() == nil {
		if _, err := st.Send(ctx, ev); err != nil && ctx.Err() == nil {
			return okN.Load(), failN.Load(), err
		}
	}
	if err := st.Close(); err != nil {
		return okN.Load(), failN.Load(), err
	}
	return okN.Load(), failN.Load(), nil
}
