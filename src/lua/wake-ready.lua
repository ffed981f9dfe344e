--[[
  wake-ready.lua: run by an idle worker just before it blocks on the queue (pipelined ahead of
  its BLMOVE, see effects/queue.ts waitAndClaim): when a task of one of its functions is ready
  to claim in its function's structure already, it pushes a wake marker, so that the wait
  returns at once and the claim behind it takes the task.

  Why: an idle worker wakes on a push to the queue, but the entry pushed can be routed into its
  function's structure by another worker's claim (one that does not serve that function) in the
  moment between this worker's last claim and its next block; the queue is then empty again,
  and without this the task would wait for the poll (fetchTaskInterval).

  Like claim.lua's step 2, nothing is ready in a function that is paused or at its limit; a
  group set aside by its limit is not ready until its time. It may answer "ready" for a group at
  its limit that no claim has set aside yet: the claim then sets it aside, and the next wait
  finds nothing.

  KEYS[1] newQueue (Q)
  ARGV pairs: a function the worker runs, and how many more of it it may take now

  Returns 1 when it pushed a wake marker, else 0.
]]
--@include lib/now.lua
--@include lib/limits.lua

local Q = KEYS[1]
-- an entry on the queue ends the wait anyway
if redis.call('LLEN', Q) > 0 then return 0 end
local paused = Q .. ':paused'
if redis.call('SISMEMBER', paused, '*') == 1 then return 0 end
local now = nowMs()
for i = 1, #ARGV, 2 do
  local fn, room = ARGV[i], tonumber(ARGV[i + 1]) or 0
  if room > 0 and redis.call('SISMEMBER', paused, fn) == 0 and not blockedUntil(Q, 'f:' .. fn, now) then
    if redis.call('ZCARD', fnKey(Q, fn, 'groups')) > 0 or #redis.call('ZRANGEBYSCORE', fnKey(Q, fn, 'blocked'), '-inf', now, 'LIMIT', 0, 1) > 0 then
      redis.call('LPUSH', Q, 'wake')
      return 1
    end
  end
end
return 0
