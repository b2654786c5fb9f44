package redistest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of real redis-server processes: Masters
// masters, each with one replica, on free loopback ports.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
}

// StartCluster runs 2×masters redis-server processes in cluster mode and
// joins them (redis-cli --cluster create, one replica per master), then
// waits until every node reports cluster_state:ok. Cleanup kills them all.
func StartCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	var addrs []string
	for range 2 * masters {
		s := &Server{t: t, Addr: freeClusterAddr(t), dir: t.TempDir(),
			args: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "2000"}}
		s.Restart()
		t.Cleanup(s.Kill)
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli is required (apt-get install redis-tools): %v", err)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitOK(20 * time.Second)
	return c
}

// Addrs are every node's address, for a client's seed list.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, s := range c.Nodes {
		out[i] = s.Addr
	}
	return out
}

// WaitOK waits until every live node says cluster_state:ok.
func (c *Cluster) WaitOK(d time.Duration) {
	c.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ok := true
		for _, s := range c.Nodes {
			if s.cmd == nil {
				continue // killed
			}
			info, err := s.DoBulk("CLUSTER INFO")
			if err != nil || !strings.Contains(info, "cluster_state:ok") {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("cluster not ok within %s", d)
}

// Replica returns a node that is a replica now.
func (c *Cluster) Replica() *Server {
	c.t.Helper()
	for _, s := range c.Nodes {
		if role, err := s.DoBulk("INFO replication"); err == nil && strings.Contains(role, "role:slave") {
			return s
		}
	}
	c.t.Fatal("no replica in the cluster")
	return nil
}

// Master returns a live node that is a master now.
func (c *Cluster) Master() *Server {
	c.t.Helper()
	for _, s := range c.Nodes {
		if role, err := s.DoBulk("INFO replication"); s.cmd != nil && err == nil && strings.Contains(role, "role:master") {
			return s
		}
	}
	c.t.Fatal("no master in the cluster")
	return nil
}

// Failover makes replica take over its master's slots (CLUSTER FAILOVER,
// coordinated: no acknowledged write is lost) and waits until it is a
// master and the cluster is ok.
func (c *Cluster) Failover(replica *Server, d time.Duration) {
	c.t.Helper()
	if r, err := replica.Do("CLUSTER FAILOVER"); err != nil || r != "+OK" {
		c.t.Fatalf("CLUSTER FAILOVER: %q %v", r, err)
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if role, err := replica.DoBulk("INFO replication"); err == nil && strings.Contains(role, "role:master") {
			c.WaitOK(time.Until(deadline))
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("replica %s not master within %s", replica.Addr, d)
}

// DoBulk sends one inline command and returns its bulk string reply.
func (s *Server) DoBulk(cmd string) (string, error) {
	c, err := s.send(cmd)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }()
	var sb strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		sb.Write(buf[:n])
		got := sb.String()
		if head, rest, ok := strings.Cut(got, "\r\n"); ok && strings.HasPrefix(head, "$") {
			size, _ := strconv.Atoi(head[1:])
			if len(rest) >= size {
				return rest[:max(size, 0)], nil
			}
		} else if ok {
			return head, nil
		}
		if err != nil {
			return got, err
		}
	}
}

// freeClusterAddr is a loopback address whose port and port+10000 (the
// cluster bus) are both free, below the ephemeral range's top.
func freeClusterAddr(t testing.TB) string {
	t.Helper()
	for range 200 {
		port := 20000 + rand.IntN(10000)
		a, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		_ = a.Close()
		if err != nil {
			continue
		}
		_ = b.Close()
		return fmt.Sprintf("127.0.0.1:%d", port)
	}
	t.Fatal("no free port pair for a cluster node")
	return ""
}
