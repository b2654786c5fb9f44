// Package memtrim gives the heap a burst left behind back to the operating
// system once the process has gone quiet.
//
// A fanoutd node's heap is mostly the state of the connections it holds,
// which lives as long as they do. A burst of connects (a deploy, a network
// blip that reconnects every browser at once) also makes garbage: handshake
// buffers, token parsing, replies. The GC collects it, but the pages it
// used stay resident: Go's scavenger only returns what lies beyond the
// heap goal (GOGC, plus 10%), so after the burst the process keeps about
// 1.5 times its live heap resident at GOGC=50, twice at 100, for as long as
// the connections stay. Measured at 18,000 held connections, that headroom
// is over a third of the RSS.
//
// A Trimmer looks at the runtime's own figures every Interval
// (runtime/metrics, no stop-the-world) and, when the process allocated
// little since the last look (under a tenth of its live heap: nothing is
// about to reuse those pages) while it retains at least MinRelease bytes
// and an eighth of its live heap beyond what is live, calls
// debug.FreeOSMemory: one forced collection, then every free page goes
// back. A busy process is never trimmed (it would fault the pages straight
// back in); a quiet one is trimmed after a burst, and never twice within
// MinGap (5 minutes): at most one extra collection per gap, whatever the
// heap's size.
//
// This is the command's policy, not the library's: like GOGC, an embedding
// program owns its process's memory, and fanoutd.New never starts one.
//
//	t := memtrim.New(memtrim.Options{Logger: log.Named("memtrim")})
//	go t.Run(ctx)
package memtrim
