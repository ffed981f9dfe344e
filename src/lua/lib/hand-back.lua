--[[
  lib/hand-back.lua: give a claimed task back to the queue, at its place (lib/put-back.lua),
  fenced by its lease, without counting the attempt against maxAttempts (the worker did not die
  running it), and publish `requeued` with the reason.

  handBack(K, now, id, lease, reason) with K = { leases, taskSet, newQueue, prefix } (key names)
  Returns true when handed back, false when the lease is not the task's (or it is not RUNNING),
  or its hash has no entry to queue again (edited by hand: the monitor parks it when it is stale).
]]
--@include lib/event.lua
--@include lib/fields.lua
--@include lib/put-back.lua

local function handBack(K, now, id, lease, reason)
  local key = K.prefix .. id
  local h = fields(key, 'state', 'lease', 'data', 'worker', 'attempt', 'function', 'group', 'priority', 'member', 'score', 'start')
  if not h or h[1] ~= 'RUNNING' or h[2] ~= lease or not h[3] then return false end
  if not putBack(K.newQueue, key, id, now, { fn = functionOf(h[6], h[3]), group = h[7], priority = h[8], member = h[9], score = h[10], start = h[11] }) then return false end
  redis.call('HSET', key, 'attempt', math.max(0, (int(h[5]) or 1) - 1))
  redis.call('ZREM', K.leases, id)
  redis.call('SREM', K.taskSet, id)
  publishRequeued(key .. '-events', id, h[5], h[4] or '', reason, now)
  return true
end
