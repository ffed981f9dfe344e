--[[
  finish.lua: end a task, fenced by its lease. Marks the hash END with how it ended, stores the
  result or error, drops it from the lease index, queues it for the monitor's cleanup and
  publishes the final `end` event, all at once so a subscriber can never miss the end.

  KEYS[1] leases (zset)   KEYS[2] ended (list)
  ARGV[1] task key   ARGV[2] task id   ARGV[3] lease   ARGV[4] outcome: succeeded|failed|stopped
  ARGV[5] result or error, as JSON   ARGV[6] events channel

  Returns 1 when written (or already written by this lease: a retry after a timeout whose
  first try did reach Redis), 0 when fenced (the lease is not ours, or the task not RUNNING).
]]
local key, id, lease, outcome, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local h = redis.call('HMGET', key, 'state', 'lease')
if h[1] == 'END' and h[2] == lease then return 1 end
if h[1] ~= 'RUNNING' or h[2] ~= lease then return 0 end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local field = outcome == 'succeeded' and 'result' or 'error'
redis.call('HSET', key, 'state', 'END', 'update', now, 'end', now, 'outcome', outcome, field, payload)
redis.call('ZREM', KEYS[1], id)
redis.call('RPUSH', KEYS[2], id)
redis.call('PUBLISH', ARGV[6], '{"event":"end","data":{"id":' .. cjson.encode(id) .. ',"outcome":"' .. outcome ..
  '","' .. field .. '":' .. payload .. '},"at":' .. now .. '}')
return 1
