--[[
  lib/delayed.lua: tasks that wait for a time (docs/queue-layout.md, "Time"). A DELAYED task's
  hash is whole (function, data, options) and it is in Q:delayed (zset -> due, Redis ms) under
  its place's member ("<seq>:<id>", lib/queue.lua; its id alone when it has no place), so that
  tasks due at one ms are promoted in the order they were placed: a delayed task is placed at
  its submit, at its due time. When due, it is promoted: QUEUED in its function's structure, at
  the place it had (a retry keeps its place, as a hand-back does) or, never placed, at its due
  time, so delayed tasks run in due order and a late promotion does not put them behind what was
  queued after they fell due.

  promote(Q, prefix, now, limit) moves at most `limit` due tasks; returns how many it promoted,
  and the earliest due time left (-1: none; `now` when more are due already).
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
  local due = redis.call('ZRANGEBYSCORE', dz, '-inf', now, 'LIMIT', 0, limit)
  local n = 0
  for _, m in ipairs(due) do
    redis.call('ZREM', dz, m)
    -- (a member of the other form, or one whose task is not DELAYED, read as an id: written by
    -- a version that keyed Q:delayed by id, or by hand)
    local id = memberId(m)
    local h = id and fields(prefix .. id, 'state', 'function', 'group', 'priority', 'member', 'score', 'runAt')
    if not (h and h[1] == 'DELAYED') then
      id = m
      h = fields(prefix .. id, 'state', 'function', 'group', 'priority', 'member', 'score', 'runAt')
    end
    local key = prefix .. id
    -- (a hash written by hand may lack its function field: its entry names it)
    if h and h[1] == 'DELAYED' and not h[2] then
      h[2] = functionOf(nil, redis.call('HGET', key, 'data'))
      -- (written back: a cancel, a claim's put-back, the stats read the hash's field)
      if h[2] then redis.call('HSET', key, 'function', h[2]) end
    end
    -- (anything else: cancelled, or edited by hand meanwhile: its zset entry was stale)
    if h and h[1] == 'DELAYED' and h[2] then
      local member, score = h[5], num(h[6])
      if not member or not score then
        member, score = placeOf(Q, id, num(h[7]) or now, num(h[4]) or 0)
        redis.call('HSET', key, 'member', member, 'score', score)
      end
      redis.call('HSET', key, 'state', 'QUEUED', 'update', now)
      redis.call('HDEL', key, 'runAt', 'reason')
      enqueue(Q, h[2], h[3] or '', member, score)
      countDelayed(Q, h[2], -1)
      n = n + 1
    end
  end
  if #due >= limit then return n, now end
  return n, nextDue(Q)
end
