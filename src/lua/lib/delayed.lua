--[[
  lib/delayed.lua: tasks that wait for a time (docs/queue-layout.md, "Time"). A DELAYED task's
  hash is whole (function, data, options) and it is in two zsets -> its due time (Redis ms):
  Q:delayed under its id, as every version has kept it (a worker of the version before, beside
  this one in a rolling upgrade or after a rollback, promotes and cancels it there), and
  Q:delayed:placed under its place's member ("<seq>:<id>", lib/queue.lua), the order this
  version promotes in: a delayed task is placed at its submit, at its due time, and a retry
  keeps the place it had, so tasks due at one ms are promoted in the order they were placed.
  Either version's promotion or cancel removes the task from Q:delayed, and this version's from
  both: an entry of Q:delayed:placed whose task is no longer DELAYED under that member is stale,
  dropped when read. When due, a task is promoted: QUEUED in its function's structure at its
  place (one with none, delayed by the version before, at its due time), so delayed tasks run in
  due order and a late promotion does not put them behind what was queued after they fell due.

  promote(Q, prefix, now, limit) moves at most `limit` due tasks; returns how many it promoted,
  and the earliest due time left (-1: none; `now` when more are due already).
  firstUnpromoted(Q, now): where the first due task not promoted yet is placed, { due, member }
  (member '' for one of the version before, never placed: before every member), or nil.
]]
--@include lib/queue.lua
--@include lib/fields.lua
--@include lib/delayed-count.lua

local function nextDue(Q)
  local a = tonumber(redis.call('ZRANGE', delayedKey(Q), 0, 0, 'WITHSCORES')[2])
  local b = tonumber(redis.call('ZRANGE', placedDelayedKey(Q), 0, 0, 'WITHSCORES')[2])
  if a and b then return math.min(a, b) end
  return a or b or -1
end

local DELAYED_FIELDS = { 'state', 'function', 'group', 'priority', 'member', 'score', 'runAt' }

-- promote task `id` (its hash's fields h, DELAYED) at its place
local function promoteOne(Q, prefix, now, id, h)
  local key = prefix .. id
  -- (a hash written by hand may lack its function field: its entry names it)
  if not h[2] then
    h[2] = functionOf(nil, redis.call('HGET', key, 'data'))
    if not h[2] then return false end
    -- (written back: a cancel, a claim's put-back, the stats read the hash's field)
    redis.call('HSET', key, 'function', h[2])
  end
  local member, score = h[5], num(h[6])
  if not member or not score then
    member, score = placeOf(Q, id, num(h[7]) or now, num(h[4]) or 0)
    redis.call('HSET', key, 'member', member, 'score', score)
  end
  redis.call('HSET', key, 'state', 'QUEUED', 'update', now)
  redis.call('HDEL', key, 'runAt', 'reason')
  enqueue(Q, h[2], h[3] or '', member, score)
  countDelayed(Q, h[2], -1)
  return true
end

local function promote(Q, prefix, now, limit)
  local first = nextDue(Q)
  if first < 0 or first > now then return 0, first end
  local n = 0
  local dz, pz = delayedKey(Q), placedDelayedKey(Q)
  -- in place order, each with its entry under its id
  local due = redis.call('ZRANGEBYSCORE', pz, '-inf', now, 'LIMIT', 0, limit)
  local seen = #due
  for _, m in ipairs(due) do
    redis.call('ZREM', pz, m)
    local id = memberId(m)
    local h = id and fields(prefix .. id, unpack(DELAYED_FIELDS))
    -- Its own entry, or the hash's member edited by hand (this entry is then its only one).
    -- Anything else is stale: promoted or cancelled by a version before (from Q:delayed), or
    -- its id submitted again since, under another member.
    if h and h[1] == 'DELAYED' and (h[5] == m or not h[5] or not redis.call('ZSCORE', pz, h[5])) then
      redis.call('ZREM', dz, id)
      if promoteOne(Q, prefix, now, id, h) then n = n + 1 end
    end
  end
  -- then what only Q:delayed holds: delayed by a version before this one
  if seen < limit then
    due = redis.call('ZRANGEBYSCORE', dz, '-inf', now, 'LIMIT', 0, limit - seen)
    seen = seen + #due
    for _, id in ipairs(due) do
      redis.call('ZREM', dz, id)
      local h = fields(prefix .. id, unpack(DELAYED_FIELDS))
      -- (anything else: cancelled, or edited by hand meanwhile: its zset entry was stale)
      if h and h[1] == 'DELAYED' then
        if h[5] then redis.call('ZREM', pz, h[5]) end
        if promoteOne(Q, prefix, now, id, h) then n = n + 1 end
      end
    end
  end
  if seen >= limit then return n, now end
  return n, nextDue(Q)
end

local function firstUnpromoted(Q, now)
  local p = redis.call('ZRANGE', placedDelayedKey(Q), 0, 0, 'WITHSCORES')
  local d = redis.call('ZRANGE', delayedKey(Q), 0, 0, 'WITHSCORES')
  local ps, ds = tonumber(p[2]), tonumber(d[2])
  -- (one of the version before, due first: not placed, so before any member at its due time)
  if ds and ds <= now and (not ps or ds < ps) then return { ds, '' } end
  if ps and ps <= now then return { ps, p[1] } end
  return nil
end
