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
  if not rid then
    local info = redis.call("INFO", "server")
    local i = string.find(info, "run_id:", 1, true)
    rid = i and string.match(info, "^%x+", i + 7)
    if not rid then error("no run_id in INFO server") end
  end
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

// publishScript numbers, stores and broadcasts events, each atomically
// (the whole call is): several per call, so that the script's fixed costs
// (the call, INFO for the run_id) are paid once per call, not per event,
// and a channel's per channel (its continuity check, one HINCRBY for all
// of its events).
//
//	ARGV, once: number of channels, PUBLISH or SPUBLISH, epoch to use for a
//	      new numbering, now (ms), idempotency ms
//	per channel: number of its events, pub/sub channel, history size, seen
//	      epoch, seen offset; then per event: 1 if it has an idempotency
//	      key (else 0), type, payload
//	KEYS, per channel: meta hash, stream, then the idempotency keys of its
//	      events that have one
//
// It answers with one string for the whole call (go-redis reads a nested
// array as one slice and two boxed values per event): per channel, in the
// order of the ARGV, the epoch its events were numbered in ("" if none
// was) and "\n", then per event "0", its offset and "\n" (published), or
// a flag (1 duplicate, 2 failed: its commands failed, the others are not
// affected), the length of a text, ":" and the text: the duplicate's
// position "offset\nepoch", or the error. answerCall reads it.
//
// Per channel, the idempotency keys first tell the duplicates, then the
// continuity check and one HINCRBY take the offsets of the others, then
// each is stored and broadcast in order. Taking all of a channel's offsets
// before storing any of its events keeps what the one-event-at-a-time
// script guaranteed: an offset is counted before it is broadcast, so a
// later failure never hands it out again. The check uses the seen
// position the node had when it built the call. An event whose
// idempotency key an earlier event of the same call carries is answered
// as that event was: a duplicate of its position, or its error. One
// HMGET and one HINCRBY per channel instead of per event: with 5 events
// of one channel, ~41 → ~33 µs per call (redis-benchmark, best of 12).
// Per event, redis.pcall instead of a pcall'd closure and no table, each
// offset formatted once (string.format %d, cheaper than .. on a number),
// the history size passed to XADD as the ARGV string it came in, and a
// shorter answer (no position to format and measure per event).
//
// The stream is trimmed with MAXLEN ~, which drops whole stream nodes:
// exact trimming rewrites a node on every XADD and made XADD the script's
// most expensive command (8 µs against 2 µs in INFO commandstats). The
// stream keeps at most one node (stream-node-max-entries,
// stream-node-max-bytes) beyond the history size, and History never
// replays more than the size (history.go).
var publishScript = redis.NewScript(continuity + `
local groups, pubcmd, fresh, now, window = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local function fail(err)
  err = tostring(type(err) == "table" and err.err or err)
  return "2" .. #err .. ":" .. err
end
local function take(meta, stream, g, count, history)
  local epoch = current(meta, stream, fresh, ARGV[g + 3], ARGV[g + 4], true)
  local offset = redis.call("HINCRBY", meta, "offset", count) - count
  if not history then
    -- Without history nothing needs the numbering for long: let an idle
    -- channel's meta go (the watchdog's probe channels are such).
    redis.call("PEXPIRE", meta, 3600000)
  end
  return epoch, offset
end
-- out[i] is an event's answer, or during a channel's turn the index of the
-- earlier event whose idempotency key it repeats.
local out, firstWith = {}, {}
local a, k = 6, 1
for _ = 1, groups do
  local g, first = a, #out + 1
  local events, pubchan, size = tonumber(ARGV[g]), ARGV[g + 1], ARGV[g + 2]
  local history = tonumber(size) > 0
  local meta, stream = KEYS[k], KEYS[k + 1]
  k, a = k + 2, g + 5
  local count, ea, ek = 0, a, k
  for i = first, first + events - 1 do
    if ARGV[ea] == "1" then
      local idem = KEYS[ek]
      ek = ek + 1
      if firstWith[idem] then
        out[i] = firstWith[idem]
      else
        local seen = redis.pcall("GET", idem)
        if type(seen) == "table" then
          out[i] = fail(seen)
        elseif seen then
          out[i] = "1" .. #seen .. ":" .. seen
        else
          firstWith[idem] = i
          count = count + 1
        end
      end
    else
      count = count + 1
    end
    ea = ea + 3
  end
  local err, epoch, offset = nil, "", 0
  if count > 0 then
    local ok
    ok, epoch, offset = pcall(take, meta, stream, g, count, history)
    if not ok then err, epoch = fail(epoch), "" end
  end
  for i = first, first + events - 1 do
    local idem
    if ARGV[a] == "1" then
      idem = KEYS[k]
      k = k + 1
    end
    local o = out[i]
    if type(o) == "number" then
      o = out[o]
      if string.byte(o) == 48 then
        local pos = string.sub(o, 2, -2) .. "\n" .. epoch
        out[i] = "1" .. #pos .. ":" .. pos
      else
        out[i] = o
      end
    elseif not o then
      if err then
        out[i] = err
      else
        offset = offset + 1
        local off, t, p = string.format("%d", offset), ARGV[a + 1], ARGV[a + 2]
        local r = history and redis.pcall("XADD", stream, "MAXLEN", "~", size, off .. "-0", "t", t, "p", p, "at", now)
        if not (type(r) == "table" and r.err) and idem and window > 0 then
          r = redis.pcall("SET", idem, off .. "\n" .. epoch, "PX", window)
        end
        if not (type(r) == "table" and r.err) then
          r = redis.pcall(pubcmd, pubchan, off .. "\n" .. epoch .. "\n" .. t .. "\n" .. p)
        end
        if type(r) == "table" and r.err then
          out[i] = fail(r)
        else
          out[i] = "0" .. off .. "\n"
        end
      end
    end
    a = a + 3
  end
  out[first] = epoch .. "\n" .. out[first]
end
return table.concat(out)
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
