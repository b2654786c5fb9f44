// Package handoff moves every live connection of an old fanoutd process to
// a new one, so that a restart or an upgrade closes nothing (issue 20). It
// moves bytes and descriptors only: what the state means (sessions,
// channels, positions) is the caller's, in named sections of an image.
//
// # The image
//
// Encode writes a magic line ("fanoutd-handoff-image"), a version line
// ("<Version> <body length> <crc32>") and a JSON body with one member per
// section; sections are encoded and decoded in parallel (a caller cuts a
// large one into several). Decode checks the version first and wraps ErrVersion, naming
// both versions, when it is not this binary's: a new binary refuses an
// image it cannot read and the old process carries on. Truncation,
// garbage and a checksum mismatch wrap ErrCorrupt. JSON because a human can
// read it when a hand-off fails, and a later binary can read an earlier
// one's fields without a schema; encoded and decoded with
// github.com/goccy/go-json (standard JSON, encoding/json's rules), because
// every client waits while the image is written and read: at 18,000
// connections encoding/json took ~30 ms to encode and 150–180 ms to decode
// (its scan of the 6 MB body alone is half of that), go-json 21 ms and
// 26–37 ms (BenchmarkHandOffImage at the root).
//
// # Descriptors and their order
//
// A Bundle carries raw descriptors (the transport keeps raw descriptors in
// its epoll set), their names (ConnName, the default, or NamePrefix…)
// and the image. The store does not keep the order of the descriptors
// (systemd gives them back newest first, and drops one it already holds),
// so there the receiver matches them to the image with SocketKey: a
// connected TCP socket's two ends, unique on the host (ConnKey builds the
// same key from ends the sender already knows, without a system call).
// The socket pair keeps the order; a receiver may rely on it, checking
// each descriptor's peer (fanoutd does, falling back to SocketKey).
//
// # Route 1: binary upgrade (fanoutd upgrade)
//
// The old process calls StartChild, which starts the new binary with one
// end of a SOCK_SEQPACKET socket pair inherited and named by EnvFD.
// SEQPACKET keeps message boundaries, so a batch of descriptors (at most
// 253, SCM_MAX_FD, per sendmsg) never straddles two reads, and the end of
// the new process is an end of stream at once. The exchange:
//
//	old (Child)                          new (Parent, from Inherited)
//	StartChild ───────────────────────▶  Inherited(os.Getenv)
//	WaitHello   ◀── hello ─────────────  Hello(Hello{Version, Images})
//	Send        ── header, descriptors ▶ Receive
//	               in batches, image ──▶
//	WaitReady   ◀── ready or refuse ───  Ready() / Refuse(reason)
//	Commit      ── commit ────────────▶  WaitCommit
//	WaitServing ◀── serving ──────────   Serving()
//
// The old process freezes its connections before it encodes the image
// (reads paused at a frame boundary, what is queued written out or carried
// in the image) and serves none of them until the hand-off ends: the image
// must stay true. The new one only decodes and registers, touching no
// socket, until WaitCommit returns. Abort (or the old process dying, which
// the new one sees as an end of stream) makes the new one exit without
// touching any socket; closing its copies is harmless, since a socket lives
// until its last descriptor closes, and the old process, which resumes,
// still holds one. After Commit the new one serves; the old one closes its
// copies (never shutdown(2), which acts on the shared socket) and exits.
// Never both serving one connection, never one nobody serves. A new
// process that dies after Commit takes the connections with it once the
// old one closes its copies: the clients reconnect, as after a drain.
//
// Send and Receive may be used more than once: fanoutd sends the
// listeners first (the new process builds its server on them while the
// old one serves on, then says Ready), and the connections with the image
// second.
//
// Under systemd, prefer route 2: systemd considers the service gone when
// its main process exits, unless it is told the new one is main (fanoutd's
// old process sends MAINPID= with the new pid at the commit).
//
// # Route 2: systemd's file-descriptor store
//
// Store sends the descriptors to $NOTIFY_SOCKET as sd_notify datagrams
// "FDSTORE=1\nFDNAME=<name>" with at most 253 descriptors each, and the
// image last, in a sealed memfd named StateName. It first removes the
// names it is about to use (FDSTOREREMOVE=1), so leftovers of a process
// that never cleared the store do not come back twice, and it refuses
// (ErrStoreTooSmall) when $FDSTORE, the unit's FileDescriptorStoreMax=,
// cannot hold them all: the caller drains instead. systemd passes the
// store to the next process through LISTEN_FDS and LISTEN_FDNAMES, where
// Restore takes what IsHandoffName names, and systemd.Listeners the
// socket unit's listeners. Once the new process owns them it calls
// ClearStore, or the manager's copies would keep every connection the new
// process closes half-open until the service stops, and a later restart
// would bring back a stale image. The names must fit the next process's
// LISTEN_FDNAMES, one environment string that Linux caps at 128 KiB: hence
// the short ConnName, and Store's check.
//
// # Concurrency
//
// Child and Parent methods are called in protocol order from one
// goroutine; Child.Abort, Child.Pid, Child.Exited and Child.Err from any.
// Every wait takes a context; the steps that take none (Hello, Ready,
// Refuse, Commit, Serving) are bounded by a 10 s write timeout. The
// package keeps no global state.
package handoff
