package fanoutd

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/internal/redistest"
)

// TestRedisClusterFailoverLosesNothingSilently: two nodes on a real Redis
// Cluster (three masters, one replica each) share channels spread over
// every master's slots. Publishers run through both nodes while a replica
// takes over its master (CLUSTER FAILOVER), then a master is killed and
// its replica takes over on its own. Every publish answered 200
// reaches every subscriber exactly once at its acknowledged position, or
// the subscriber was told (missed); no position is given twice. Live
// events use sharded pub/sub, and channels follow their slot to the new
// master (the last event of every channel must arrive).
func TestRedisClusterFailoverLosesNothingSilently(t *testing.T) {
	cl := redistest.StartCluster(t, 3)
	onCluster := func(c *config.Config) {
		c.Broker.Type, c.Broker.Redis.Address, c.Broker.Redis.Cluster = "redis", cl.Nodes[0].Addr, true
	}
	nodes := []*testDaemon{startDaemon(t, onCluster), startDaemon(t, onCluster)}
	const channels = 12 // over 3 masters: all on one or two is a 1-in-~2,000 event
	var readers []*chaosReader
	for _, d := range nodes {
		w := d.dial(token(t, "u", "*"))
		for i := range channels {
			w.subscribe(fmt.Sprint("cl:", i))
		}
		readers = append(readers, readAllFrames(w))
	}
	// Sharded pub/sub: each master has the channels of its slots, and
	// nothing is subscribed the classic way (which the bus would carry to
	// every node).
	shardChannels := 0
	for _, n := range cl.Nodes {
		sc, err := n.DoBulk("PUBSUB SHARDCHANNELS")
		if err != nil {
			t.Fatal(err)
		}
		var k int
		_, _ = fmt.Sscanf(sc, "*%d", &k)
		shardChannels += k
		if c, _ := n.DoBulk("PUBSUB CHANNELS"); c != "*0" {
			t.Errorf("node %s has classic pub/sub channels: %s", n.Addr, c)
		}
	}
	if shardChannels < channels {
		t.Errorf("%d shard channels subscribed over the masters, want at least %d", shardChannels, channels)
	}
	acks := newAckLog()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for p := range 4 { // publishers, each on its own channels, through both nodes
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 2000; n++ {
				select {
				case <-stop:
					return
				case <-time.After(10 * time.Millisecond):
				}
				ch := p + 4*(n%3)
				publishAcked(t, nodes[n%2], acks, fmt.Sprint("cl:", ch), fmt.Sprintf(`"%d-%d-%d"`, p, ch, n))
			}
		}()
	}
	time.Sleep(2 * time.Second)
	cl.Failover(cl.Replica(), 15*time.Second)
	time.Sleep(2 * time.Second)
	// A master crashes: its replica takes over once the others notice
	// (cluster-node-timeout 2 s); links pinned to it must move.
	cl.Master().Kill()
	time.Sleep(time.Second)
	cl.WaitOK(20 * time.Second)
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	// A last event per channel, after which each subscriber has everything.
	for i := range channels {
		publishAcked(t, nodes[i%2], acks, fmt.Sprint("cl:", i), fmt.Sprintf(`"end-%d"`, i))
	}
	for s, r := range readers {
		if !waitUntil(20*time.Second, func() bool { return hasAllEnds(r.snapshot(), channels) }) {
			t.Fatalf("subscriber %d: the last events did not all arrive", s)
		}
		checkDeliveries(t, acks, r.snapshot())
		missed := 0
		for _, m := range r.snapshot() {
			if m["type"] == "missed" {
				missed++
			}
		}
		t.Logf("subscriber %d: %d missed frames (the failed-over master's channels start new epochs)", s, missed)
	}
	acks.mu.Lock()
	t.Logf("%d publishes acknowledged", len(acks.byPay))
	acks.mu.Unlock()
}

func hasAllEnds(frames []map[string]any, channels int) bool {
	seen := 0
	for _, m := range frames {
		if p, ok := m["payload"].(string); ok && len(p) > 4 && p[:4] == "end-" {
			seen++
		}
	}
	return seen == channels
}
