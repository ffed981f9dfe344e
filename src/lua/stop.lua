--[[
  stop.lua: Client.control(id, 'stop'). The stop is published on the task's control channel, and
  a running task is marked `cancelling` in the same step, as cancel.lua marks it: pub/sub keeps
  nothing, and a stop that reached no one (the worker's subscriber connection being made again),
  or reached a worker that then lost the task (cut off from Redis, killed, or stopped itself:
  the task requeued or handed back), let the task run on or run again, though told to stop. With
  the mark, the worker's next heartbeat stops it (renew.lua), an attempt failing meanwhile is not
  retried (finish.lua), and a task requeued or put back is ended `cancelled` rather than run
  (requeue.lua, claim.lua). A task between two attempts (DELAYED for a retry's backoff: its
  attempt failed just before) is a run under way too, which no worker holds to hear the message:
  nothing is published, and the caller cancels it (cancel.lua ends it `cancelled` at once). For a
  task not running otherwise (queued, delayed by its submit, ended, or an entry of the seed's
  kind still on `new-task`) nothing is done: a stop is for the run it reaches, `cancel` ends a
  task that waits. Nor is anything published for it: no worker holds it, and an idle worker
  keeps a message heard for a task it does not hold, for a claim of it on its way
  (src/early-control.ts); its wait, sent before, claimed the task when it fell due and was
  handed the stop, and the task ended `stopped` without running.

  KEYS[1] task key   KEYS[2] queued (set)
  ARGV[1] id   ARGV[2] control channel   ARGV[3] the message (its JSON text, as formatControl writes it)

  Returns 'stopping' (running: marked, and published), 'retrying' (in a retry's backoff: nothing
  done), 'idle' (not running: nothing done) or 'unknown' (no such task).
]]
--@include lib/fields.lua

local h = fields(KEYS[1], 'state', 'reason')
local state = h and h[1]
if not state and redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return 'unknown' end
if state == 'DELAYED' and h[2] == 'retry' then return 'retrying' end
if state ~= 'RUNNING' then return 'idle' end
redis.call('HSET', KEYS[1], 'cancelling', '1')
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 'stopping'
