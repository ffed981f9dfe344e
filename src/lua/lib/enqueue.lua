--[[
  lib/enqueue.lua: queue a new task the way submit.lua does, for the scripts that queue tasks of
  their own (fire-schedule.lua). A task with no group and priority 0 (the seed's kind) is marked
  queued and pushed on the left of the queue; one with a group or a priority is placed in its
  function's queue at once (lib/queue.lua), its hash written QUEUED, and idle workers are woken.
  The caller has checked that the id is free.
]]
--@include lib/now.lua
--@include lib/queue.lua

-- key: the task's hash; queuedSet: the `queued` set; Q: the queue; place: false for the seed's kind
local function enqueueTask(key, queuedSet, Q, id, raw, place, fn, g, priority, manualEnd)
  if not place then
    redis.call('SADD', queuedSet, id)
    redis.call('LPUSH', Q, raw)
    return
  end
  local now = nowMs()
  local member, score = placeOf(Q, id, now, priority)
  redis.call('HSET', key, 'state', 'QUEUED', 'update', now, 'function', fn, 'data', raw, 'member', member, 'score', score)
  if g ~= '' then redis.call('HSET', key, 'group', g) end
  if priority ~= 0 then redis.call('HSET', key, 'priority', priority) end
  if manualEnd then redis.call('HSET', key, 'manual_end', '1') end
  enqueue(Q, fn, g, member, score)
  wake(Q)
end

-- is task `id` (hash at `key`) still queued, delayed or running: anything but ended or gone?
local function taskLive(key, queuedSet, id)
  if redis.call('SISMEMBER', queuedSet, id) == 1 then return true end
  if redis.call('EXISTS', key) == 0 then return false end
  return redis.call('HGET', key, 'state') ~= 'END'
end
