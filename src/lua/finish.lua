--[[
  finish.lua: end one or more tasks, each fenced by its lease. Marks the hash END with how it
  ended, stores the result or error, drops it from the lease index, queues it for the
  monitor's cleanup and publishes the final `end` event, all at once so a subscriber can never
  miss the end. A worker ends every task that settled in the same tick with one call.

  The task's limits are released (lib/limits.lua).

  KEYS[1] leases (zset)   KEYS[2] ended (list)   KEYS[3] newQueue (Q, lib/names.lua)
  ARGV, six per task: task key, task id, lease, outcome (succeeded|failed|stopped),
  result or error as JSON, events channel

  Returns, per task: 1 when written (or already written by this lease: a retry after a timeout
  whose first try did reach Redis), 0 when fenced (the lease is not ours, or not RUNNING).
]]
--@include lib/now.lua
--@include lib/event.lua
--@include lib/fields.lua
--@include lib/limits.lua

local now = nowMs()
local out = {}
for i = 1, #ARGV, 6 do
  local key, id, lease, outcome, payload, channel = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local h = fields(key, 'state', 'lease', 'function', 'group') or {}
  if h[1] == 'END' and h[2] == lease then
    out[#out + 1] = 1
  elseif h[1] ~= 'RUNNING' or h[2] ~= lease then
    out[#out + 1] = 0
  else
    local field = outcome == 'succeeded' and 'result' or 'error'
    redis.call('HSET', key, 'state', 'END', 'update', now, 'end', now, 'outcome', outcome, field, payload)
    redis.call('ZREM', KEYS[1], id)
    redis.call('RPUSH', KEYS[2], id)
    release(KEYS[3], h[3], h[4])
    redis.call('PUBLISH', channel, eventJson('end', '{"id":' .. cjson.encode(id) .. ',"outcome":"' .. outcome .. '","' .. field .. '":' .. payload .. '}', now))
    out[#out + 1] = 1
  end
end
return out
