//go:build race

package netpoll

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put back, and some values escape that otherwise would not, so
// allocation counts do not hold there.
const raceEnabled = true
