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
local function current(meta, stream, fresh, seenEpoch, seenOffset, create)
  local v = redis.call("HMGET", meta, "epoch", "offset", "run")
  local epoch, offset, run = v[1], tonumber(v[2] or "0"), v[3]
  if not epoch and not create then return "", 0 end
  local rid = string.match(redis.call("INFO", "server"), "run_id:(%x+)")
  if epoch and run == rid and not (epoch == seenEpoch and offset < tonumber(seenOffset)) then
    return epoch, offset
  end
  redis.call("DEL", stream)
  redis.call("HSET", meta, "epoch", fresh, "offset", 0, "run", rid)
  return fresh, 0
end
`

// publishScript numbers, stores and broadcasts one event atomically.
//
//	KEYS: meta hash, stream[, idempotency key]
//	ARGV: pub/sub channel, type, payload, history size, idempotency ms,
//	      epoch to use for a new numbering, now (ms), seen epoch, seen
//	      offset, PUBLISH or SPUBLISH
//
// It returns {"offset\nepoch", duplicate (0 or 1)}.
var publishScript = redis.NewScript(continuity + `
if #KEYS == 3 then
  local seen = redis.call("GET", KEYS[3])
  if seen then return {seen, 1} end
end
local epoch = current(KEYS[1], KEYS[2], ARGV[6], ARGV[8], ARGV[9], true)
local offset = redis.call("HINCRBY", KEYS[1], "offset", 1)
local size = tonumber(ARGV[4])
if size > 0 then
  redis.call("XADD", KEYS[2], "MAXLEN", size, offset .. "-0", "t", ARGV[2], "p", ARGV[3], "at", ARGV[7])
else
  -- Without history nothing needs the numbering for long: let an idle
  -- channel's meta go (the watchdog's probe channels are such).
  redis.call("PEXPIRE", KEYS[1], 3600000)
end
local pos = offset .. "\n" .. epoch
if #KEYS == 3 and tonumber(ARGV[5]) > 0 then
  redis.call("SET", KEYS[3], pos, "PX", ARGV[5])
end
redis.call(ARGV[10], ARGV[1], pos .. "\n" .. ARGV[2] .. "\n" .. ARGV[3])
return {pos, 0}
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
