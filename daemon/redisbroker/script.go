package redisbroker

import "github.com/redis/go-redis/v9"

// continuity is the prologue of every script: current(...) returns the
// channel's epoch and offset, after starting a new epoch when this data set
// cannot prove that it is the one the epoch's positions were given in.
//
// Proof is the meta hash's "run" field: the run_id of the Redis process
// that last used the channel. A process that restarted (from an RDB
// snapshot or an AOF that lacks the last second), a replica promoted after
// a failover, and a data set restored from a backup all have another
// run_id, so the channel's next use starts a new epoch at offset 0 and
// deletes the stream: positions of the old epoch are never given again,
// and a client holding one gets recovered:false, never a partial replay. A
// meta hash that is gone (FLUSHALL, eviction, DEL) is a new epoch too. The
// node's own memory is the second proof: seenEpoch/seenOffset are the
// highest position this node saw; an offset below it in the same epoch is
// a rollback, whatever run_id says.
//
//	current(meta, stream, fresh, seenEpoch, seenOffset, create)
//
// With create false, a channel without meta stays without (epoch "").
const continuity = `
local rid
local function runid()
  if not rid then rid = string.match(redis.call("INFO", "server"), "run_id:(%x+)") end
  return rid
end
local function current(meta, stream, fresh, seenEpoch, seenOffset, create)
  local v = redis.call("HMGET", meta, "epoch", "offset", "run")
  local epoch, offset, run = v[1], tonumber(v[2] or "0"), v[3]
  if not epoch and not create then return "", 0 end
  if epoch and run == runid() and not (epoch == seenEpoch and offset < tonumber(seenOffset)) then
    return epoch, offset
  end
  redis.call("DEL", stream)
  redis.call("HSET", meta, "epoch", fresh, "offset", 0, "run", runid())
  return fresh, 0
end
`

// perEvent is how many ARGV the publish script takes per event.
const perEvent = 10

// publishScript numbers, stores and broadcasts events, each atomically
// (the whole call is): several per call, so that the script's fixed costs
// (the call, INFO for the run_id) are paid once per call, not per event.
//
//	ARGV[1]: number of events; ARGV[2]: PUBLISH or SPUBLISH
//	per event, perEvent ARGV: number of its KEYS (2 or 3), pub/sub channel,
//	      type, payload, history size, idempotency ms, epoch to use for a
//	      new numbering, now (ms), seen epoch, seen offset
//	KEYS, per event: meta hash, stream[, idempotency key]
//
// It returns one {"offset\nepoch", duplicate (0 or 1)} per event, or
// {error, 2} for an event whose commands failed; the others are not
// affected.
//
// The stream is trimmed with MAXLEN ~, which drops whole stream nodes:
// exact trimming rewrites a node on every XADD and made XADD the script's
// most expensive command (8 µs against 2 µs in INFO commandstats). The
// stream keeps at most one node (stream-node-max-entries,
// stream-node-max-bytes) beyond the history size, and History never
// replays more than the size (history.go).
var publishScript = redis.NewScript(continuity + `
local function publish(meta, stream, idem, a)
  if idem then
    local seen = redis.call("GET", idem)
    if seen then return {seen, 1} end
  end
  local epoch = current(meta, stream, ARGV[a+6], ARGV[a+8], ARGV[a+9], true)
  local offset = redis.call("HINCRBY", meta, "offset", 1)
  local size = tonumber(ARGV[a+4])
  if size > 0 then
    redis.call("XADD", stream, "MAXLEN", "~", size, offset .. "-0", "t", ARGV[a+2], "p", ARGV[a+3], "at", ARGV[a+7])
  else
    -- Without history nothing needs the numbering for long: let an idle
    -- channel's meta go (the watchdog's probe channels are such).
    redis.call("PEXPIRE", meta, 3600000)
  end
  local pos = offset .. "\n" .. epoch
  if idem and tonumber(ARGV[a+5]) > 0 then
    redis.call("SET", idem, pos, "PX", ARGV[a+5])
  end
  redis.call(ARGV[2], ARGV[a+1], pos .. "\n" .. ARGV[a+2] .. "\n" .. ARGV[a+3])
  return {pos, 0}
end
local out, k = {}, 1
for i = 0, tonumber(ARGV[1]) - 1 do
  local a = 3 + i * 10
  local nk = tonumber(ARGV[a])
  local idem = nil
  if nk == 3 then idem = KEYS[k + 2] end
  local ok, res = pcall(publish, KEYS[k], KEYS[k + 1], idem, a)
  if ok then
    out[i + 1] = res
  else
    out[i + 1] = {tostring(type(res) == "table" and res.err or res), 2}
  end
  k = k + nk
end
return out
`)

// historyScript reads a channel's position and, when the epoch asked for
// is current, the stream entries after an offset: in one step, so that a
// new epoch cannot slip in between. Running it twice is harmless: a new
// epoch it starts is current the second time.
//
//	KEYS: meta hash, stream
//	ARGV: after, epoch, epoch to use for a new numbering, seen epoch,
//	      seen offset
//
// It returns {epoch, offset, entries (XRANGE's reply)}.
var historyScript = redis.NewScript(continuity + `
local epoch, offset = current(KEYS[1], KEYS[2], ARGV[3], ARGV[4], ARGV[5], false)
local after = tonumber(ARGV[1])
if epoch == "" or epoch ~= ARGV[2] or after >= offset then return {epoch, offset, {}} end
return {epoch, offset, redis.call("XRANGE", KEYS[2], string.format("%d", after + 1) .. "-0", "+")}
`)
