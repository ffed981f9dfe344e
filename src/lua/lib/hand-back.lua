--[[
  lib/hand-back.lua: give a claimed task back to the queue, at its place (lib/put-back.lua),
  fenced by its lease, without counting the attempt against maxAttempts (the worker did not die
  running it), and publish `requeued` with the reason.

  handBack(K, now, id, lease, reason) with K = { leases, taskSet, newQueue, prefix } (key names)
  Returns true when handed back, false when the lease is not the task's (or it is not RUNNING),
  or its hash has no entry to queue again (edited by hand: the monitor parks it when it is stale),
  or Redis refused its put-back before its first write (a key of it damaged by hand: it stays
  RUNNING for a monitor, which requeues it once the key is mended).
]]
--@include lib/event.lua
--@include lib/fields.lua
--@include lib/put-back.lua

local function handBack(K, now, id, lease, reason)
  local key = K.prefix .. id
  local h = fields(key, 'state', 'lease', 'data', 'worker', 'attempt', 'function', 'group', 'priority', 'member', 'score', 'start')
  if not h or h[1] ~= 'RUNNING' or h[2] ~= lease or not h[3] then return false end
  -- A put-back refused before its first write (a key it would write damaged by hand, its
  -- group's turns in another function: lib/put-back.lua) is this task's alone: it stays RUNNING
  -- under its lease, in the lease index, for a monitor to requeue once the key is mended, and the
  -- other tasks of the call are handed back. Raised, it failed the whole call at every try, the
  -- tasks after it left to a monitor (requeued as dead), a claim recovery never done. (Refused
  -- after its place and hash were written, it is QUEUED: put back, as requeue.lua counts it.)
  local ok, back = pcall(putBack, K.newQueue, key, id, now, { fn = functionOf(h[6], h[3]), group = h[7], priority = h[8], member = h[9], score = h[10], start = h[11] })
  if ok and not back then return false end
  if not ok and redis.call('HGET', key, 'state') == 'RUNNING' then return false end
  redis.call('HSET', key, 'attempt', math.max(0, (int(h[5]) or 1) - 1))
  redis.call('ZREM', K.leases, id)
  redis.call('SREM', K.taskSet, id)
  publishRequeued(key .. '-events', id, h[5], h[4] or '', reason, now)
  return true
end
