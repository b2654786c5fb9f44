// Command redisconn measures whether carrying Redis pub/sub on the same
// connection as the publish calls makes a publish cheaper: the last idea
// left for the Redis broker's throughput in issue 13 (BENCHMARKS.md, "The
// last idea for Redis, measured").
//
// It runs the Redis broker's shape without the daemon around it: 16
// publishers each wait for their event's answer before the next; two
// pipeline goroutines each take every event waiting and send them as one
// EVALSHA, whose script PUBLISHes each event; a receiver counts the events
// as they come back through pub/sub. Two clients do this in turn:
//
//   - go-redis, as redisbroker does: calls on pooled connections, pub/sub on
//     a connection of its own (RESP2 cannot carry both).
//   - rueidis, RESP3: calls and pub/sub pushes on one connection, so Redis
//     writes a call's reply and its messages in one buffer and the client
//     reads them with one read.
//
// For each run it prints events/s, events per call and the CPU per event of
// this process and of redis-server, and at the end the median of each
// with its spread. It starts its own redis-server on a free loopback port
// (no persistence).
//
//	go run . -runs 9 -events 300000   # make bench-redisconn
//
// It is a module of its own so that the daemon does not depend on rueidis;
// it takes the daemon's module from the directory above (replace in go.mod).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fanoutd/fanoutd/internal/cputime"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
)

// script publishes each ARGV to KEYS[1], as the publish script does per
// event (without numbering or storing).
const script = `
for i = 1, #ARGV do redis.call("PUBLISH", KEYS[1], ARGV[i]) end
return #ARGV`

const payload = `{"channel":"tp:0","type":"t","payload":{"n":1}}`

// maxBatch bounds the events of one call, as redisbroker's maxPerCall.
const maxBatch = 64

func main() {
	events := flag.Int("events", 200000, "events per run and client")
	runs := flag.Int("runs", 3, "runs of each client, interleaved")
	publishers := flag.Int("publishers", 16, "concurrent publishers")
	pipelines := flag.Int("pipelines", 2, "goroutines sending calls")
	flag.Parse()
	if err := run(*events, *runs, *publishers, *pipelines); err != nil {
		fmt.Fprintln(os.Stderr, "redisconn:", err)
		os.Exit(1)
	}
}

// client sends one script call per batch; its dial counts the events that
// come back through pub/sub.
type client interface {
	call(ctx context.Context, n int) error
	close()
}

type result struct{ rate, perCall, self, server float64 }

func run(events, runs, publishers, pipelines int) error {
	srv, err := startRedis()
	if err != nil {
		return err
	}
	defer srv.stop()
	clients := []struct {
		name string
		dial func(ctx context.Context, addr string, got *atomic.Int64) (client, error)
	}{
		{"go-redis, pub/sub on its own connection", dialGoRedis},
		{"rueidis, pub/sub on the calls' connection", dialRueidis},
	}
	results := make([][]result, len(clients))
	for r := range runs {
		for i, c := range clients {
			res, err := measure(srv, c.dial, events, publishers, pipelines)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			results[i] = append(results[i], res)
			fmt.Printf("run %d  %-42s %8.0f events/s  %4.1f events/call  %5.2f µs/event here  %5.2f µs/event in redis-server\n",
				r+1, c.name, res.rate, res.perCall, res.self, res.server)
		}
	}
	fmt.Println("medians (min–max):")
	for i, c := range clients {
		spread := func(format string, f func(result) float64) string {
			v := make([]float64, len(results[i]))
			for j, r := range results[i] {
				v[j] = f(r)
			}
			slices.Sort(v)
			return fmt.Sprintf(format+" ("+format+"–"+format+")", v[len(v)/2], v[0], v[len(v)-1])
		}
		fmt.Printf("  %s: %s events/s, %s events/call, %s µs/event here, %s µs/event in redis-server\n", c.name,
			spread("%.0f", func(r result) float64 { return r.rate }), spread("%.1f", func(r result) float64 { return r.perCall }),
			spread("%.2f", func(r result) float64 { return r.self }), spread("%.2f", func(r result) float64 { return r.server }))
	}
	return nil
}

// measure runs events publishes through a new client and returns the rate
// and the CPU per event, once every event came back through pub/sub.
func measure(srv *server, dial func(context.Context, string, *atomic.Int64) (client, error), events, publishers, pipelines int) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var got atomic.Int64
	c, err := dial(ctx, srv.addr, &got)
	if err != nil {
		return result{}, err
	}
	defer c.close()
	queue := make(chan chan error, 4096)
	var calls atomic.Int64
	for range pipelines {
		go func() {
			batch := make([]chan error, 0, maxBatch)
			for {
				select {
				case d := <-queue:
					batch = append(batch[:0], d)
				case <-ctx.Done():
					return
				}
			take:
				for len(batch) < maxBatch {
					select {
					case d := <-queue:
						batch = append(batch, d)
					default:
						break take
					}
				}
				err := c.call(ctx, len(batch))
				calls.Add(1)
				for _, d := range batch {
					d <- err
				}
			}
		}()
	}
	self0, server0, err := cpu(srv.pid)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := make(chan error, 1)
			for next.Add(1) <= int64(events) {
				queue <- d
				select {
				case err := <-d:
					if err != nil {
						errs <- err
						return
					}
				case <-ctx.Done():
					errs <- ctx.Err()
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return result{}, err
	default:
	}
	for got.Load() < int64(events) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	self1, server1, err := cpu(srv.pid)
	if err != nil {
		return result{}, err
	}
	if n := got.Load(); n != int64(events) {
		return result{}, fmt.Errorf("%d of %d events came back", n, events)
	}
	n := float64(events)
	return result{
		rate:    n / elapsed.Seconds(),
		perCall: n / float64(calls.Load()),
		self:    float64((self1 - self0).Microseconds()) / n,
		server:  float64((server1 - server0).Microseconds()) / n,
	}, nil
}

type goRedis struct {
	rdb *redis.Client
	ps  *redis.PubSub
	sha string
}

func dialGoRedis(ctx context.Context, addr string, got *atomic.Int64) (client, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	sha, err := rdb.ScriptLoad(ctx, script).Result()
	if err != nil {
		return nil, err
	}
	ps := rdb.Subscribe(ctx, "c")
	if _, err := ps.Receive(ctx); err != nil {
		return nil, err
	}
	go func() {
		for {
			if _, err := ps.ReceiveMessage(ctx); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	return &goRedis{rdb: rdb, ps: ps, sha: sha}, nil
}

func (g *goRedis) call(ctx context.Context, n int) error {
	args := make([]any, n)
	for i := range args {
		args[i] = payload
	}
	pipe := g.rdb.Pipeline()
	pipe.EvalSha(ctx, g.sha, []string{"c"}, args...)
	_, err := pipe.Exec(ctx)
	return err
}

func (g *goRedis) close() { g.ps.Close(); g.rdb.Close() }

type rueidisClient struct {
	c   rueidis.Client
	sha string
}

func dialRueidis(ctx context.Context, addr string, got *atomic.Int64) (client, error) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableRetry: true, DisableCache: true})
	if err != nil {
		return nil, err
	}
	sha, err := c.Do(ctx, c.B().ScriptLoad().Script(script).Build()).ToString()
	if err != nil {
		return nil, err
	}
	subscribed := make(chan struct{})
	var once sync.Once
	hook := rueidis.WithOnSubscriptionHook(ctx, func(rueidis.PubSubSubscription) { once.Do(func() { close(subscribed) }) })
	go c.Receive(hook, c.B().Subscribe().Channel("c").Build(), func(rueidis.PubSubMessage) { got.Add(1) })
	select {
	case <-subscribed:
	case <-time.After(5 * time.Second):
		return nil, errors.New("rueidis: no subscription confirmed")
	}
	return &rueidisClient{c: c, sha: sha}, nil
}

func (r *rueidisClient) call(ctx context.Context, n int) error {
	args := make([]string, n)
	for i := range args {
		args[i] = payload
	}
	return r.c.Do(ctx, r.c.B().Evalsha().Sha1(r.sha).Numkeys(1).Key("c").Arg(args...).Build()).Error()
}

func (r *rueidisClient) close() { r.c.Close() }

type server struct {
	addr string
	pid  int
	cmd  *exec.Cmd
}

// startRedis runs redis-server on a free loopback port, without
// persistence, and waits until it accepts connections.
func startRedis() (*server, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("redis-server", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{addr: addr, pid: cmd.Process.Pid, cmd: cmd}
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, errors.New("redis-server did not start")
}

func (s *server) stop() { s.cmd.Process.Kill(); s.cmd.Wait() }

// cpu is this process's CPU time and redis-server's.
func cpu(pid int) (self, server time.Duration, err error) {
	server, err = cputime.Process(pid)
	return cputime.Self(), server, err
}
