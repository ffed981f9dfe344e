--[[
  trim-dead.lua: the monitor keeps the dead-letter store within the retention the user chose.
  Entries that hold no task (junk: not JSON, no id, duplicates, ...) are kept up to
  deadLetterMax, the oldest dropped past it, so a producer of garbage cannot fill Redis. Parked
  tasks are kept until retried or purged, unless deadLetterRetention is set: then every entry
  older than that is dropped, a parked task's hash with it. Every drop is counted in the stats
  hash (`dropped:<reason>`) and reported to the monitor, which logs it.

  KEYS[1..4] the dead-letter store: entries, index, junk, stats (see lib/park.lua)
  ARGV[1] deadLetterMax (0 = no bound)   ARGV[2] deadLetterRetention ms (0 = keep)
  ARGV[3] task key prefix   ARGV[4] max entries this call

  Returns { flat { reason, count, ... } of what was dropped, more (1 = call again) }.
]]
--@include lib/now.lua
--@include lib/fields.lua

local max, retention, prefix, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local now = nowMs()
local dropped, order, n = {}, {}, 0

local function drop(key)
  local reason = 'unknown'
  local ok, letter = pcall(cjson.decode, redis.call('HGET', KEYS[1], key) or '')
  if ok and type(letter) == 'table' then
    reason = tostring(letter.reason)
    if letter.task and type(letter.id) == 'string' then
      local h = fields(prefix .. letter.id, 'dead')
      if h and h[1] == key then redis.call('DEL', prefix .. letter.id) end
    end
  end
  redis.call('HDEL', KEYS[1], key)
  redis.call('ZREM', KEYS[2], key)
  redis.call('ZREM', KEYS[3], key)
  redis.call('HINCRBY', KEYS[4], 'dropped:' .. reason, 1)
  if not dropped[reason] then
    dropped[reason] = 0
    order[#order + 1] = reason
  end
  dropped[reason] = dropped[reason] + 1
  n = n + 1
end

local more = 0
if max > 0 then
  local over = redis.call('ZCARD', KEYS[3]) - max
  if over > limit then more = 1 end
  if over > 0 then
    for _, key in ipairs(redis.call('ZRANGE', KEYS[3], 0, math.min(over, limit) - 1)) do drop(key) end
  end
end
if retention > 0 and n < limit then
  local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - retention, 'LIMIT', 0, limit - n)
  if #old >= limit - n then more = 1 end
  for _, key in ipairs(old) do drop(key) end
end
local flat = {}
for _, reason in ipairs(order) do
  flat[#flat + 1] = reason
  flat[#flat + 1] = dropped[reason]
end
return { flat, more }
