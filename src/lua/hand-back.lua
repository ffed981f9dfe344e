--[[
  hand-back.lua: a worker that stops gracefully returns the tasks it could not finish to the
  head of the queue. Fenced by lease; the attempt is not counted against maxAttempts.

  KEYS[1] leases (zset)   KEYS[2] taskSet   KEYS[3] newQueue
  ARGV[1] task key prefix   ARGV[2..] pairs of task id, lease

  Returns the ids handed back.
]]
--@include lib/now.lua
--@include lib/event.lua

local prefix = ARGV[1]
local now = nowMs()
local back = {}
for i = 2, #ARGV, 2 do
  local id, lease = ARGV[i], ARGV[i + 1]
  local key = prefix .. id
  local h = redis.call('HMGET', key, 'state', 'lease', 'data', 'worker', 'attempt')
  if h[1] == 'RUNNING' and h[2] == lease then
    redis.call('HSET', key, 'state', 'QUEUED', 'update', now)
    redis.call('HDEL', key, 'lease', 'worker')
    redis.call('HINCRBY', key, 'attempt', -1)
    redis.call('ZREM', KEYS[1], id)
    redis.call('SREM', KEYS[2], id)
    redis.call('RPUSH', KEYS[3], h[3])
    redis.call('PUBLISH', key .. '-events', eventJson('requeued', '{"id":' .. cjson.encode(id) .. ',"attempt":' .. (tonumber(h[5]) or 0) ..
      ',"worker":' .. cjson.encode(h[4] or '') .. ',"reason":"worker stopping"}', now))
    back[#back + 1] = id
  end
end
return back
