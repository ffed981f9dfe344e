--[[
  cancel.lua: Client.cancel. A task that has not started is taken out of wherever it waits and
  ended `cancelled` in one step, so no claim can start it afterwards: from its function's queue
  (QUEUED, placed), from Q:delayed (DELAYED), or, an entry still on `new-task` (of the seed's
  kind: no hash yet, in the queued set; or a dead letter retried: QUEUED without a place), by
  writing its hash ended and marked `unrouted`: the claim that routes the entry drops it
  (claim.lua), and reap.lua keeps the hash until then. A running task is sent a stop on its
  control channel (it ends `stopped`) and marked `cancelling`, in the same step, so that an
  attempt failing before the stop reaches it is not retried (finish.lua). (The caller published
  the stop after this script, in a second command: an attempt that ended between the two, its
  retry written as its end, left that stop to be kept by its worker for a claim of the id, and
  the id submitted again at once ended `stopped`.) For a task that has not started, the end is
  published, the task queued for the monitor's cleanup, its dedupe key freed.

  The same script is Client.control(id, 'stop') (ARGV[5] 'stop'), so that a stop holds when its
  pub/sub message does not: a running task is marked and sent the stop as above, and the mark
  does the rest (the worker's next heartbeat stops a task that never heard the message,
  renew.lua; a task requeued or put back is ended `cancelled` rather than run, requeue.lua,
  claim.lua). A task between two attempts is a run under way too, which no worker holds to hear
  a message: DELAYED for a retry's backoff (its attempt failed just before), or QUEUED again
  after a claim (its `claims` or `attempt` counted: a retry promoted, a requeue after its worker
  died, a hand-back, a dead letter retried), which is what a caller who saw the task RUNNING
  finds when its worker died or stopped just before. It is cancelled as above, in this step:
  judged by one script and cancelled by another, a claim between the two ran the attempt the
  stop was to prevent. A task no claim has taken yet (queued or delayed by its submit, an entry
  still on `new-task`) is left as it is: a stop is for the run it reaches, `cancel` ends a task
  that waits. Nor is anything published for it: an idle worker keeps a message heard for a task
  it does not hold, for a claim of it on its way (src/early-control.ts), and its wait, sent
  before, claimed the task when it fell due and was handed the stop: it ended `stopped` without
  running.

  KEYS[1] task key   KEYS[2] newQueue (Q)   KEYS[3] queued (set)   KEYS[4] ended (list)
  ARGV[1] id   ARGV[2] events channel   ARGV[3] the call's token ('' none): kept on the hash of
  the task it cancels (`cancel_call`), so that the same call run again (a connection that closed
  before the reply came resends it) answers 'cancelled', what its first run did, not 'ended'
  ARGV[4] control channel: a running task's stop is published there
  ARGV[5] 'stop' for a control stop (above), else '' or none

  Returns 'cancelled', 'running', 'ended', 'unknown' (no such task) or, for a stop only,
  'waiting' (no claim has taken it yet: nothing done).
]]
--@include lib/now.lua
--@include lib/event.lua
--@include lib/delayed.lua

local key, Q, id = KEYS[1], KEYS[2], ARGV[1]
local h = fields(key, 'state', 'function', 'group', 'member', 'key', 'reason', 'claims', 'attempt')
if not h then return 'unknown' end
local state = h[1]
-- (a hash written by hand may lack its function field: its entry names it, as promote reads it)
if (state == 'QUEUED' or state == 'DELAYED') and not h[2] then h[2] = functionOf(nil, redis.call('HGET', key, 'data')) end
if state == 'RUNNING' then
  -- the caller's stop ends this attempt; the mark keeps a failure racing the stop from being
  -- retried (finish.lua), so no further attempt starts
  redis.call('HSET', key, 'cancelling', '1')
  redis.call('PUBLISH', ARGV[4], 'stop')
  return 'running'
end
if state == 'END' then
  if ARGV[3] ~= '' and redis.call('HGET', key, 'cancel_call') == ARGV[3] then return 'cancelled' end
  return 'ended'
end
-- the task is between two attempts, a run under way that no worker holds: DELAYED for a retry's
-- backoff, or QUEUED again after a claim, its `claims` or `attempt` counted (a count edited into
-- junk reads as none)
local function betweenAttempts()
  if state == 'DELAYED' then return h[6] == 'retry' end
  if state == 'QUEUED' then return (int(h[7]) or 0) > 0 or (int(h[8]) or 0) > 0 end
  return false
end
-- a stop of a task no claim has taken yet: left as it is
if ARGV[5] == 'stop' and not betweenAttempts() then
  if state == 'QUEUED' or state == 'DELAYED' or (not state and redis.call('SISMEMBER', KEYS[3], id) == 1) then return 'waiting' end
  return 'unknown'
end
-- (its dedupe key's holder read before the first write: a dedupe hash written by hand as another
-- type refused the call after the task was written END, its key still held and its end untold)
local holder = h[5] and redis.call('HGET', dedupeKey(Q), h[5])
local now = nowMs()
if state == 'QUEUED' and h[4] then
  if h[2] then unqueue(Q, h[2], h[3] or '', h[4]) end
elseif state == 'DELAYED' then
  -- (under its id, and under its place's member when this version delayed it: lib/delayed.lua;
  -- the placed entry first, so that a caller whose ACL rules predate that key is refused before
  -- anything is written)
  local removed = h[4] and redis.call('ZREM', placedDelayedKey(Q), h[4]) or 0
  removed = removed + redis.call('ZREM', delayedKey(Q), id)
  if removed > 0 then countDelayed(Q, h[2], -1) end
elseif (not state and redis.call('SISMEMBER', KEYS[3], id) == 1) or (state == 'QUEUED' and not h[4]) then
  -- its entry waits on `new-task`: submitted of the seed's kind (no hash yet), or a parked task
  -- put back by retry-dead.lua (QUEUED, its place dropped); the claim that routes it drops it
  redis.call('HSET', key, 'unrouted', '1')
else
  -- a hash of no state the runtime writes (edited by hand)
  return 'unknown'
end
redis.call('SREM', KEYS[3], id)
redis.call('HSET', key, 'state', 'END', 'update', now, 'end', now, 'outcome', 'cancelled')
if ARGV[3] ~= '' then redis.call('HSET', key, 'cancel_call', ARGV[3]) end
-- (cancelled in a retry's backoff: the error kept from the failed attempt is in its history)
redis.call('HDEL', key, 'runAt', 'reason', 'error')
redis.call('RPUSH', KEYS[4], id)
if holder == id then redis.call('HDEL', dedupeKey(Q), h[5]) end
publishEvent(ARGV[2], 'end', id, now, 'outcome', '"cancelled"')
return 'cancelled'
