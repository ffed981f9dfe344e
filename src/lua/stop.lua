--[[
  stop.lua: Client.control(id, 'stop'). The stop is published on the task's control channel, and
  a running task is marked `cancelling` in the same step, as cancel.lua marks it: pub/sub keeps
  nothing, and a stop that reached no one (the worker's subscriber connection being made again),
  or reached a worker that then lost the task (cut off from Redis, killed, or stopped itself:
  the task requeued or handed back), let the task run on or run again, though told to stop. With
  the mark, the worker's next heartbeat stops it (renew.lua), an attempt failing meanwhile is not
  retried (finish.lua), and a task requeued or put back is ended `cancelled` rather than run
  (requeue.lua, claim.lua). A task between two attempts is a run under way too, which no worker
  holds to hear the message: DELAYED for a retry's backoff (its attempt failed just before), or
  QUEUED again after a claim (its `claims` counted: a retry promoted, a requeue after its worker
  died, a hand-back, a dead letter retried). Nothing is published, and the caller cancels it
  (cancel.lua ends it `cancelled` at once): a stop sent on seeing it RUNNING, whose worker died
  or handed it back just before, would otherwise find it queued and let it run again. For a task
  not running otherwise (queued or delayed by its submit, never claimed, or an entry of the
  seed's kind still on `new-task`) or ended, nothing is done: a stop is for the run it reaches,
  `cancel` ends a task that waits. Nor is anything published for it: no worker holds it, and an
  idle worker keeps a message heard for a task it does not hold, for a claim of it on its way
  (src/early-control.ts); its wait, sent before, claimed the task when it fell due and was
  handed the stop, and the task ended `stopped` without running.

  KEYS[1] task key   KEYS[2] queued (set)
  ARGV[1] id   ARGV[2] control channel   ARGV[3] the message (its JSON text, as formatControl writes it)

  Returns 'stopping' (running: marked, and published), 'between' (between two attempts: nothing
  done), 'waiting' (queued or delayed, never claimed: nothing done), 'ended' (nothing done) or
  'unknown' (no such task).
]]
--@include lib/fields.lua

local h = fields(KEYS[1], 'state', 'reason', 'claims', 'attempt')
local state = h and h[1]
if not state then return redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 and 'waiting' or 'unknown' end
if state == 'RUNNING' then
  redis.call('HSET', KEYS[1], 'cancelling', '1')
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 'stopping'
end
if state == 'END' then return 'ended' end
-- (`attempt` too, for a hash claimed before claims were counted; a count edited into junk reads
-- as none)
if (state == 'DELAYED' and h[2] == 'retry') or (state == 'QUEUED' and ((tonumber(h[3]) or 0) > 0 or (tonumber(h[4]) or 0) > 0)) then return 'between' end
return 'waiting'
