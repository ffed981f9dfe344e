--[[
  lib/enqueue.lua: queue a new task the way submit.lua does, for the scripts that queue tasks of
  their own (fire-schedule.lua). A task with no group and priority 0 (the seed's kind) is marked
  queued and pushed on the left of the queue; one with a group or a priority is placed in its
  function's queue at once (lib/queue.lua), its hash written QUEUED, and idle workers are woken.
  The caller has checked that the id is free. Every write that can be refused (a key damaged by
  hand) comes before the task's hash and its `queued` mark: a refusal leaves no task that says
  QUEUED in no queue (test/refused-write-leaves-nothing.test.ts).
]]
--@include lib/now.lua
--@include lib/queue.lua

-- key: the task's hash; queuedSet: the `queued` set; Q: the queue; place: false for the seed's
-- kind; extra (optional): more fields of its hash, name and value in turn
local function enqueueTask(key, queuedSet, Q, id, raw, place, fn, g, priority, manualEnd, extra)
  if not place then
    redis.call('LPUSH', Q, raw)
    redis.call('SADD', queuedSet, id)
    return
  end
  local now = nowMs()
  local member, score = placeOf(Q, id, now, priority)
  enqueue(Q, fn, g, member, score)
  wake(Q)
  local f = { 'state', 'QUEUED', 'update', now, 'function', fn, 'data', raw, 'member', member, 'score', score }
  if g ~= '' then f[#f + 1], f[#f + 2] = 'group', g end
  if priority ~= 0 then f[#f + 1], f[#f + 2] = 'priority', priority end
  if manualEnd then f[#f + 1], f[#f + 2] = 'manual_end', '1' end
  for j = 1, #(extra or {}) do f[#f + 1] = extra[j] end
  redis.call('HSET', key, unpack(f))
end

-- is task `id` (hash at `key`) still queued, delayed or running: anything but ended or gone?
local function taskLive(key, queuedSet, id)
  if redis.call('SISMEMBER', queuedSet, id) == 1 then return true end
  if redis.call('EXISTS', key) == 0 then return false end
  return redis.call('HGET', key, 'state') ~= 'END'
end
