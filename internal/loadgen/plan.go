package loadgen

import "strconv"

// ChannelPrefix names the bench channels: bench:0 … bench:M-1. The minted
// token allows exactly ChannelPrefix+"*".
const ChannelPrefix = "bench:"

// ChannelName is the name of channel c.
func ChannelName(c int) string { return ChannelPrefix + strconv.Itoa(c) }

// ChannelOf is the channel of connection i, and also of event seq i: both
// are spread round-robin, so M=1 puts everyone on one channel and M=N gives
// every connection its own.
func ChannelOf(i int64, channels int) int { return int(i % int64(channels)) }

// ProcRange is the contiguous share [first, first+count) of the conns
// global connection indices that worker proc of procs opens.
func ProcRange(conns, procs, proc int) (first, count int) {
	first = conns * proc / procs
	return first, conns*(proc+1)/procs - first
}

// Subscribers knows how many ready subscribers each channel has, and from
// that how many deliveries a run of published events must produce.
type Subscribers struct {
	prefix []int64 // prefix[c] = subscribers of channels 0..c-1
}

// NewSubscribers counts the subscribers of each of channels channels when
// connections 0..conns-1 were planned and those in failed never became
// ready.
func NewSubscribers(conns, channels int, failed []int) *Subscribers {
	counts := make([]int64, channels)
	full, extra := conns/channels, conns%channels
	for c := range counts {
		counts[c] = int64(full)
		if c < extra {
			counts[c]++
		}
	}
	for _, i := range failed {
		if i >= 0 && i < conns {
			counts[ChannelOf(int64(i), channels)]--
		}
	}
	s := &Subscribers{prefix: make([]int64, channels+1)}
	for c, n := range counts {
		s.prefix[c+1] = s.prefix[c] + n
	}
	return s
}

// Total is the number of ready subscribers.
func (s *Subscribers) Total() int64 { return s.prefix[len(s.prefix)-1] }

// Of is the number of subscribers of channel c.
func (s *Subscribers) Of(c int) int64 { return s.prefix[c+1] - s.prefix[c] }

// Expected is the number of deliveries owed for the count events with
// sequence numbers start … start+count-1 (event seq goes to channel
// seq mod M). It is O(1): whole rounds over the channels deliver Total each.
func (s *Subscribers) Expected(start, count int64) int64 {
	m := int64(len(s.prefix) - 1)
	if count <= 0 {
		return 0
	}
	rounds, rest := count/m, count%m
	off := start % m
	sum := rounds * s.Total()
	if off+rest <= m {
		return sum + s.prefix[off+rest] - s.prefix[off]
	}
	return sum + s.prefix[m] - s.prefix[off] + s.prefix[off+rest-m]
}
