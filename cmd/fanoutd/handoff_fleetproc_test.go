package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"
)

// fleetEnv makes this test binary run a fleet of clients (TestMain): the
// hand-off tests keep their clients in a process of their own, so that
// 18,000 of them, plus the fake service manager's copy of each stored
// descriptor, fit the 20,000 open files a process may have here.
const fleetEnv = "FANOUTD_TEST_FLEET"

// fleetOrder is what the test process tells its fleet process.
type fleetOrder struct {
	WS       string `json:"ws"`
	Secret   string `json:"secret"`
	Clients  int    `json:"clients"`
	Channels int    `json:"channels"`
}

// fleetResult is the fleet process's answer to a check.
type fleetResult struct {
	LagNS int64  `json:"lag_ns"`
	Error string `json:"error,omitempty"`
}

// runFleetProcess is the fleet process: it reads its order from fleetEnv,
// opens the fleet, says "ready", then reads the events published to each
// channel (a JSON array) from stdin, checks, answers a fleetResult, exits.
func runFleetProcess() {
	var o fleetOrder
	if err := json.Unmarshal([]byte(os.Getenv(fleetEnv)), &o); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	f, err := openFleet(o.WS, o.Secret, o.Clients, o.Channels)
	if err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	fmt.Println("ready")
	var sent []int64
	if err := json.NewDecoder(os.Stdin).Decode(&sent); err != nil {
		fmt.Printf("error %v\n", err)
		os.Exit(2)
	}
	lag, err := f.check(sent)
	r := fleetResult{LagNS: int64(lag)}
	if err != nil {
		r.Error = err.Error()
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	f.close()
	os.Exit(0)
}

// fleetProc is the test's handle on its fleet process.
type fleetProc struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	order fleetOrder
}

// startFleet runs a fleet process of n clients over channels channels of
// the daemon at ws and waits (bounded) until every client is subscribed.
func startFleet(t *testing.T, ws, secret string, n, channels int) *fleetProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	o := fleetOrder{WS: ws, Secret: secret, Clients: n, Channels: channels}
	b, _ := json.Marshal(o)
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), fleetEnv+"="+string(b))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fp := &fleetProc{t: t, cmd: cmd, in: in, out: bufio.NewReader(out), order: o}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := fp.line(5 * time.Minute)
	if line != "ready" {
		t.Fatalf("fleet of %d clients: %s", n, line)
	}
	return fp
}

// line reads the fleet process's next line, failing the test after d.
func (fp *fleetProc) line(d time.Duration) string {
	fp.t.Helper()
	got := make(chan string, 1)
	go func() {
		s, err := fp.out.ReadString('\n')
		if err != nil {
			s = "error reading the fleet process: " + err.Error()
		}
		got <- s[:max(0, len(s)-1)]
	}()
	select {
	case s := <-got:
		return s
	case <-time.After(d):
		fp.t.Fatalf("the fleet process said nothing for %s", d)
		return ""
	}
}

// verify gives the fleet the publisher's counts and returns the longest
// publish→deliver time; a broken promise fails the test.
func (fp *fleetProc) verify(p *tickPublisher) time.Duration {
	fp.t.Helper()
	sent := make([]int64, len(p.sent))
	for i := range p.sent {
		sent[i] = p.sent[i].Load()
	}
	b, _ := json.Marshal(sent)
	if _, err := fp.in.Write(append(b, '\n')); err != nil {
		fp.t.Fatal(err)
	}
	var r fleetResult
	line := fp.line(2 * time.Minute)
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		fp.t.Fatalf("fleet answer %q: %v", line, err)
	}
	if r.Error != "" {
		fp.t.Fatalf("%d clients: %s", fp.order.Clients, r.Error)
	}
	return time.Duration(r.LagNS)
}
