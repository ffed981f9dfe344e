--[[
  lib/delayed.lua: tasks that wait for a time (docs/queue-layout.md, "Time"). A DELAYED task's
  hash is whole (function, data, options) and its id is in Q:delayed (zset id -> due, Redis
  ms). When due, it is promoted: QUEUED in its function's structure, at the place it had (a retry
  keeps its place, as a hand-back does) or, never placed, at its due time, so delayed tasks run
  in due order and a late promotion does not put them behind what was queued after they fell due.
  A task submitted delayed has its routing number given at its submit (its `member`, submit.lua)
  and its score at its due time: tasks due at one instant start in the order they were
  submitted. Q:delayed orders them by id, and routing numbers given here would follow that. So
  tasks due at one ms are promoted together: a batch that would split them ends before them,
  unless they fill it from its start (more due at one ms than a batch): then `split` says that
  some were left, and the claim takes nothing until they are all promoted (claim.lua), or one
  submitted later would start before them.

  promote(Q, prefix, now, limit) moves at most `limit` due tasks; returns how many it promoted,
  the earliest due time left (-1: none; `now` when more are due already), and split (above).
]]
--@include lib/queue.lua
--@include lib/fields.lua
--@include lib/delayed-count.lua

local function nextDue(Q)
  local first = redis.call('ZRANGE', delayedKey(Q), 0, 0, 'WITHSCORES')
  return tonumber(first[2]) or -1
end

local function promote(Q, prefix, now, limit)
  local first = nextDue(Q)
  if first < 0 or first > now then return 0, first end
  local dz = delayedKey(Q)
  -- id, due time pairs; one more than a batch, to see whether the batch splits a ms
  local due = redis.call('ZRANGEBYSCORE', dz, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit + 1)
  local take, split = #due / 2, false
  if take > limit then
    take = limit
    local last = tonumber(due[2 * limit])
    if tonumber(due[2 * limit + 2]) == last then
      while take > 0 and tonumber(due[2 * take]) == last do take = take - 1 end
      if take == 0 then take, split = limit, true end
    end
  end
  local n = 0
  for i = 1, take do
    local id = due[2 * i - 1]
    redis.call('ZREM', dz, id)
    local key = prefix .. id
    local h = fields(key, 'state', 'function', 'group', 'priority', 'member', 'score', 'runAt')
    -- (a hash written by hand may lack its function field: its entry names it)
    if h and h[1] == 'DELAYED' and not h[2] then
      h[2] = functionOf(nil, redis.call('HGET', key, 'data'))
      -- (written back: a cancel, a claim's put-back, the stats read the hash's field)
      if h[2] then redis.call('HSET', key, 'function', h[2]) end
    end
    -- (anything else: cancelled, or edited by hand meanwhile: its zset entry was stale)
    if h and h[1] == 'DELAYED' and h[2] then
      local member, score = h[5], num(h[6])
      if not member then
        member, score = placeOf(Q, id, num(h[7]) or now, num(h[4]) or 0)
        redis.call('HSET', key, 'member', member, 'score', score)
      elseif not score then
        -- numbered at its submit: its turn counts from its due time
        score = scoreAt(num(h[7]) or now, num(h[4]) or 0)
        redis.call('HSET', key, 'score', score)
      end
      redis.call('HSET', key, 'state', 'QUEUED', 'update', now)
      redis.call('HDEL', key, 'runAt', 'reason')
      enqueue(Q, h[2], h[3] or '', member, score)
      countDelayed(Q, h[2], -1)
      n = n + 1
    end
  end
  if take < #due / 2 then return n, now, split end
  return n, nextDue(Q), false
end
