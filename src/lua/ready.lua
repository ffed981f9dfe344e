--[[
  ready.lua: run just before an idle worker's wait, in the same pipeline, so nothing runs in
  between: when work of the worker's functions waits in their queues and may start now, it
  pushes a wake marker into the empty queue, and the wait returns at once. So it does when a
  delayed or retrying task is due (the claim promotes it).

  Why: any worker's claim routes new entries, so a task of a function this worker serves can be
  routed by another one while this worker is between its last claim and its wait. The entry is
  then off `new-task`, and a wait on an empty queue would sleep through it until the poll.

  KEYS[1] newQueue (Q)
  ARGV: the worker's functions that have room now

  Returns 1 when it found such work (and woke), else 0.
]]
--@include lib/now.lua
--@include lib/limits.lua
--@include lib/delayed.lua

local Q = KEYS[1]
local paused = Q .. ':paused'
if redis.call('SISMEMBER', paused, '*') == 1 then return 0 end
local now = nowMs()
-- a delayed task fell due: the claim promotes it (for this worker's functions or another's)
local due = nextDue(Q)
if due >= 0 and due <= now then
  wake(Q)
  return 1
end
for _, fn in ipairs(ARGV) do
  if redis.call('SISMEMBER', paused, fn) == 0 and not blockedUntil(Q, 'f:' .. fn, now) then
    -- groups waiting their turn, or set aside by a rate window that has passed
    -- (a key of the function's queue damaged by hand, WRONGTYPE, reads as not ready: the claim
    -- refuses that function, and a marker pushed at every wait for it made an idle worker spin)
    local groups = redis.pcall('ZCARD', fnKey(Q, fn, 'groups'))
    local ready = (type(groups) == 'number' and groups > 0)
      or #redis.call('ZRANGEBYSCORE', fnKey(Q, fn, 'blocked'), '-inf', now, 'LIMIT', 0, 1) > 0
    if ready then
      wake(Q)
      return 1
    end
  end
end
return 0
