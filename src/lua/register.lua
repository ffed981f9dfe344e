--[[
  register.lua: list a worker in `workers` and mark it seen now (Redis time), or take it out.

  KEYS[1] workerSet   KEYS[2] workerSeen (zset: worker -> when it is overdue)   KEYS[3] epoch
  KEYS[4] workerFunctions (hash: worker -> the functions it serves, JSON)
  KEYS[5] workerStates (hash: worker -> its machine state, for the dashboard; dropped on remove)
  KEYS[6] outage (hash; its `timeout` is the monitors' taskTimeout, written by requeue.lua)
  ARGV[1] worker "host:port"   ARGV[2] "add" | "remove"   ARGV[3] its heartbeatInterval ms
  ARGV[4] the functions it serves, JSON (add)

  Returns { Redis time in ms, the epoch of Redis's data (made when missing, see renew.lua),
  the monitors' taskTimeout or false (none yet; as renew.lua returns it: a worker whose
  heartbeatInterval is too slow for it is told at start, not a heartbeat later) }.
]]
--@include lib/now.lua
local now = nowMs()
if ARGV[2] == 'add' then
  redis.call('SADD', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[2], now + 3 * tonumber(ARGV[3] or 1000), ARGV[1])
  if ARGV[4] then redis.call('HSET', KEYS[4], ARGV[1], ARGV[4]) end
else
  redis.call('SREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('HDEL', KEYS[5], ARGV[1])
end
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = tostring(now)
  redis.call('SET', KEYS[3], epoch)
end
local timeout = tonumber(redis.call('HGET', KEYS[6], 'timeout'))
return { now, epoch, timeout or false }
