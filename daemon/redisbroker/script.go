package redisbroker

import "github.com/redis/go-redis/v9"

// publishScript numbers, stores and broadcasts one event atomically.
//
//	KEYS: meta hash, stream, idempotency key ("" for none)
//	ARGV: pub/sub channel, type, payload, history size, idempotency ms,
//	      epoch to use if the channel has none, now (ms)
//
// It returns {"offset\nepoch", duplicate (0 or 1)}.
var publishScript = redis.NewScript(`
if KEYS[3] ~= "" then
  local seen = redis.call("GET", KEYS[3])
  if seen then return {seen, 1} end
end
local epoch = redis.call("HGET", KEYS[1], "epoch")
if not epoch then
  -- A new numbering: a stream left from an older one would refuse the
  -- new offsets as IDs, and belongs to positions no client can use.
  epoch = ARGV[6]
  redis.call("HSET", KEYS[1], "epoch", epoch)
  redis.call("DEL", KEYS[2])
end
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
if KEYS[3] ~= "" and tonumber(ARGV[5]) > 0 then
  redis.call("SET", KEYS[3], pos, "PX", ARGV[5])
end
redis.call("PUBLISH", ARGV[1], pos .. "\n" .. ARGV[2] .. "\n" .. ARGV[3])
return {pos, 0}
`)
