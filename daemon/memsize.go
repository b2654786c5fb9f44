package daemon

import (
	"sort"
	"unsafe"
)

// sizeClasses are the Go allocator's small-object size classes (Go 1.26,
// internal/runtime/gc): an allocation of n bytes takes the first class of
// at least n. Objects over the largest class take whole 8 KiB pages.
var sizeClasses = [...]int{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
	288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048,
	2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768}

const pageBytes = 8192

// allocBytes is the heap an allocation of n bytes really takes. It is an
// estimate in one respect only: a future Go may change the classes, which
// moves the figure by a few percent, not the 1.7× that counting lengths
// missed.
func allocBytes(n int) int {
	if n <= 0 {
		return 0
	}
	if n > sizeClasses[len(sizeClasses)-1] {
		return (n + pageBytes - 1) / pageBytes * pageBytes
	}
	return sizeClasses[sort.SearchInts(sizeClasses[:], n)]
}

// entryBytes is one slot of a history ring.
const entryBytes = int(unsafe.Sizeof(entry{}))

// historyRingBytes is a history's own allocation while it holds events.
var historyRingBytes = allocBytes(int(unsafe.Sizeof(historyRing{})))

// hubEntryBytes approximates a channel's slot in its hub shard's table
// (chanTable: a pointer, at a load between 3/16 and 3/4).
const hubEntryBytes = 16

// channelBytes is what a channel kept alive only by its history costs
// besides the history itself: the struct, its name and epoch strings, and
// its hub table slot. A channel that holds one event each, by the thousand,
// costs about twice its events.
func channelBytes(name, epoch string) int {
	return allocBytes(int(unsafe.Sizeof(channel{}))) + allocBytes(len(name)) + allocBytes(len(epoch)) + hubEntryBytes
}
