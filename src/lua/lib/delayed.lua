--[[
  lib/delayed.lua: tasks that wait for a time (docs/queue-layout.md, "Time"). A DELAYED task's
  hash is whole (function, data, options) and it waits in Q:delayed:placed (zset -> due, Redis
  ms) under its place's member ("<seq>:<id>", lib/queue.lua): a delayed task is placed at its
  submit, at its due time, and a retry keeps the place it had, so tasks due at one ms are
  promoted in the order they were placed. Q:delayed (zset id -> due) is the layout before it,
  still promoted and cancelled here, never written. When due, a task is promoted: QUEUED in its
  function's structure at its place (one with none, of the layout before, at its due time), so
  delayed tasks run in due order and a late promotion does not put them behind what was queued
  after they fell due.

  promote(Q, prefix, now, limit) moves at most `limit` due tasks; returns how many it promoted,
  and the earliest due time left (-1: none; `now` when more are due already).
  firstUnpromoted(Q, now): the first due task of Q:delayed:placed not promoted yet, { due,
  member }, or nil.
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
  local n, seen = 0, 0
  -- the layout before (ids): what a version before this one left
  local dz = delayedKey(Q)
  local due = redis.call('ZRANGEBYSCORE', dz, '-inf', now, 'LIMIT', 0, limit)
  seen = #due
  for _, id in ipairs(due) do
    redis.call('ZREM', dz, id)
    local h = fields(prefix .. id, unpack(DELAYED_FIELDS))
    -- (anything else: cancelled, or edited by hand meanwhile: its zset entry was stale)
    if h and h[1] == 'DELAYED' and promoteOne(Q, prefix, now, id, h) then n = n + 1 end
  end
  local pz = placedDelayedKey(Q)
  if seen < limit then
    due = redis.call('ZRANGEBYSCORE', pz, '-inf', now, 'LIMIT', 0, limit - seen)
    seen = seen + #due
    for _, m in ipairs(due) do
      redis.call('ZREM', pz, m)
      local id = memberId(m)
      local h = id and fields(prefix .. id, unpack(DELAYED_FIELDS))
      if h and h[1] == 'DELAYED' then
        -- Its own entry, or the hash's member edited by hand (this entry is then its only one).
        -- Another (its member in the zset): this one is stale, a task of that id cancelled by a
        -- client of the version before (which removed its id alone) and submitted again.
        if h[5] == m or not h[5] or not redis.call('ZSCORE', pz, h[5]) then
          if promoteOne(Q, prefix, now, id, h) then n = n + 1 end
        end
      elseif h and h[1] == 'END' and h[2] then
        -- cancelled while it waited, by a client of the version before: its entry and its count
        -- were left (cancel.lua removes both)
        if redis.call('HGET', prefix .. id, 'outcome') == 'cancelled' then countDelayed(Q, h[2], -1) end
      end
    end
  end
  if seen >= limit then return n, now end
  return n, nextDue(Q)
end

local function firstUnpromoted(Q, now)
  local first = redis.call('ZRANGE', placedDelayedKey(Q), 0, 0, 'WITHSCORES')
  if first[2] and tonumber(first[2]) <= now then return { tonumber(first[2]), first[1] } end
  return nil
end
