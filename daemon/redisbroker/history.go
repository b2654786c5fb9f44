package redisbroker

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/fanoutd/fanoutd/daemon"
)

// Position implements daemon.Broker. Before the channel's first publish
// it is offset 0 of no epoch (""): a client holding that recovers nothing,
// as it should.
func (b *Broker) Position(ctx context.Context, channel string) (uint64, string, error) {
	epoch, offset, _, err := b.read(ctx, channel, 0, "")
	if err != nil {
		return 0, "", fmt.Errorf("redis position: %w", err)
	}
	return offset, epoch, nil
}

// History implements daemon.Broker.
func (b *Broker) History(ctx context.Context, channel string, after uint64, epoch string) ([]daemon.BrokerEvent, bool, error) {
	current, offset, entries, err := b.read(ctx, channel, after, epoch)
	if err != nil {
		return nil, false, fmt.Errorf("redis history: %w", err)
	}
	if current != epoch || after > offset {
		return nil, false, nil
	}
	if after == offset {
		// Up to date; also a channel never published to (epoch ""),
		// which has nothing to miss.
		return nil, true, nil
	}
	size, ttl := b.opts.History(channel)
	if offset-after > uint64(max(size, 0)) {
		// The stream is trimmed with MAXLEN ~ and may still hold older
		// entries: replay no more than the history size, as if trimmed
		// exactly, so that what can be recovered does not depend on where
		// Redis cut.
		return nil, false, nil
	}
	oldest := int64(0)
	if ttl > 0 {
		oldest = b.opts.Now().Add(-ttl).UnixMilli()
	}
	events := make([]daemon.BrokerEvent, 0, len(entries))
	want := after + 1
	for _, m := range entries {
		ev, at, ok := parseEntry(m, epoch)
		if !ok || ev.Offset != want || at < oldest {
			return nil, false, nil
		}
		events = append(events, ev)
		want++
	}
	return events, want > offset, nil
}

// read runs historyScript: the channel's epoch and offset and, when epoch
// is current, its stream entries after after. Idempotent, so go-redis's
// redirections in a cluster are safe.
func (b *Broker) read(ctx context.Context, channel string, after uint64, epoch string) (string, uint64, []any, error) {
	if epoch == "" {
		epoch = "-" // names no epoch: position only
	}
	seenEpoch, seenOffset := b.seen.get(channel)
	res, err := historyScript.Run(ctx, b.rdb, []string{b.key("m", channel), b.key("s", channel)},
		after, epoch, newEpoch(), seenEpoch, seenOffset).Slice()
	b.noteErr(err)
	if err != nil {
		return "", 0, nil, err
	}
	if len(res) != 3 {
		return "", 0, nil, fmt.Errorf("malformed answer %v", res)
	}
	current, _ := res[0].(string)
	offset, _ := res[1].(int64)
	entries, _ := res[2].([]any)
	b.seen.note(channel, current, uint64(offset))
	return current, uint64(offset), entries, nil
}

// parseEntry reads one XRANGE entry, [id, [field, value, …]], of epoch.
func parseEntry(m any, epoch string) (daemon.BrokerEvent, int64, bool) {
	e, _ := m.([]any)
	if len(e) != 2 {
		return daemon.BrokerEvent{}, 0, false
	}
	idStr, _ := e[0].(string)
	id, _, _ := strings.Cut(idStr, "-")
	off, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return daemon.BrokerEvent{}, 0, false
	}
	fields, _ := e[1].([]any)
	ev := daemon.BrokerEvent{Offset: off, Epoch: epoch}
	var at int64
	for i := 0; i+1 < len(fields); i += 2 {
		k, _ := fields[i].(string)
		v, _ := fields[i+1].(string)
		switch k {
		case "t":
			ev.Type = v
		case "p":
			if v != "" {
				ev.Payload = []byte(v)
			}
		case "at":
			at, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return ev, at, true
}
