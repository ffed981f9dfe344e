--[[
  hand-back.lua: a worker that stops gracefully returns the tasks it could not finish to the
  head of the queue. Fenced by lease; the attempt is not counted against maxAttempts.

  KEYS[1] leases (zset)   KEYS[2] taskSet   KEYS[3] newQueue
  ARGV[1] task key prefix   ARGV[2..] pairs of task id, lease

  Returns the ids handed back.
]]
local prefix = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
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
    redis.call('PUBLISH', key .. '-events', '{"event":"requeued","data":{"id":' .. cjson.encode(id) .. ',"attempt":' .. (tonumber(h[5]) or 0) ..
      ',"worker":' .. cjson.encode(h[4] or '') .. ',"reason":"worker stopping"},"at":' .. now .. '}')
    back[#back + 1] = id
  end
end
return back
