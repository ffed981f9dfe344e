--[[
  submit.lua: the Client's submit. Refuses an id that is queued, running or retained. A task with
  no group and priority 0 (the seed's kind) is marked queued (so `get` can say QUEUED and
  duplicates are caught before they reach the queue) and pushed on the left of the queue, as the
  seed's producers do; the next claim routes it, or takes it at once (claim.lua's fast path).

  A task with a group or a priority is placed in its function's queue at once (lib/queue.lua),
  as a claim would route it: its turn and its priority then count from now, not from when the
  claims have routed whatever waits on `new-task` ahead of it (a flood of another group pushed
  just before would otherwise go first). Idle workers are woken (a marker into an empty queue).

  KEYS[1] task key   KEYS[2] queued (set)   KEYS[3] newQueue (Q)
  ARGV[1] id   ARGV[2] raw task JSON
  ARGV[3] function, ARGV[4] group ('' = none), ARGV[5] priority, ARGV[6] '1' for manual_end:
          given only to place the task at once ('' in ARGV[3]: through the queue)

  Returns 1 when queued, 0 when the id is taken.
]]
--@include lib/now.lua
--@include lib/queue.lua

local key, id, raw, fn = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', key) == 1 or redis.call('SISMEMBER', KEYS[2], id) == 1 then return 0 end
if not fn or fn == '' then
  redis.call('SADD', KEYS[2], id)
  redis.call('LPUSH', KEYS[3], raw)
  return 1
end
local Q, g, priority = KEYS[3], ARGV[4], tonumber(ARGV[5]) or 0
local now = nowMs()
local member, score = placeOf(Q, id, now, priority)
redis.call('HSET', key, 'state', 'QUEUED', 'update', now, 'function', fn, 'data', raw, 'member', member, 'score', score)
if g ~= '' then redis.call('HSET', key, 'group', g) end
if priority ~= 0 then redis.call('HSET', key, 'priority', priority) end
if ARGV[6] == '1' then redis.call('HSET', key, 'manual_end', '1') end
enqueue(Q, fn, g, member, score)
wake(Q)
return 1
