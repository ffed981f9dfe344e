--[[
  lib/delayed.lua: tasks that wait for a time (docs/queue-layout.md, "Time"). A DELAYED task's
  hash is whole (function, data, options) and it is in two zsets -> its due time (Redis ms):
  Q:delayed under its id, as every version has kept it (a worker of the version before, beside
  this one in a rolling upgrade or after a rollback, promotes and cancels it there), and
  Q:delayed:placed under its place's member ("<seq>:<id>", lib/queue.lua), the order this
  version promotes in: a delayed task is placed at its submit, at its due time, and a retry
  keeps the place it had, so tasks due at one ms are promoted in the order they were placed.
  Either version's promotion or cancel removes the task from Q:delayed, and this version's from
  both: an entry of Q:delayed:placed stands only while its task's entry under its id is there at
  the same due time (placedStands); any other is stale, dropped when read. When due, a task is promoted: QUEUED in its function's structure at its
  place (one with none, delayed by the version before, at its due time), so delayed tasks run in
  due order and a late promotion does not put them behind what was queued after they fell due.

  promote(Q, prefix, now, limit) moves at most `limit` due tasks; returns how many it promoted,
  and the earliest due time left (-1: none; `now` when more are due already).
  firstUnpromoted(Q, prefix, now): where the first due task not promoted yet is placed, { score,
  member } (member '' for one of a version before, never placed: before every member), or nil.
]]
--@include lib/queue.lua
--@include lib/fields.lua
--@include lib/delayed-count.lua

-- (a due time below 0, written by hand, -inf among them, is due now: -1 says "none")
local function dueOf(at)
  if not at then return -1 end
  return math.max(0, at)
end

-- the earlier of two heads' due times (-1: neither)
local function earlier(a, b)
  if a and b then return dueOf(math.min(a, b)) end
  return dueOf(a or b)
end

-- the earliest due time of both zsets (-1: none), the time the next promotion has work
local function nextDue(Q)
  return earlier(tonumber(redis.call('ZRANGE', delayedKey(Q), 0, 0, 'WITHSCORES')[2]), tonumber(redis.call('ZRANGE', placedDelayedKey(Q), 0, 0, 'WITHSCORES')[2]))
end

-- the earliest due time of every delayed task (-1: none): Q:delayed holds each (of any version),
-- and never a stale entry, which a task promoted by a version before leaves in Q:delayed:placed;
-- the time idle workers of either version are woken for
local function firstDue(Q)
  return dueOf(tonumber(redis.call('ZRANGE', delayedKey(Q), 0, 0, 'WITHSCORES')[2]))
end

local DELAYED_FIELDS = { 'state', 'function', 'group', 'priority', 'member', 'score', 'runAt' }

-- An entry of Q:delayed:placed stands for its task while the task's entry under its id is there
-- at the same due time: this version writes and removes the two together, and a version before
-- removes (promotes, cancels) or moves (retries, submits again) the one under the id alone.
local function placedStands(id, due, at)
  return id ~= nil and at ~= nil and at == due
end

-- The heads of both zsets: the earliest due under an id and the earliest placed (nil: none),
-- stale entries at the placed head dropped first (one far ahead, a task a version before
-- cancelled due next week, would keep every claim off the calm path until then). A placed head
-- whose id heads Q:delayed at its due time stands without asking: the common case, two reads.
local function heads(Q)
  local pz, dz = placedDelayedKey(Q), delayedKey(Q)
  local d = redis.call('ZRANGE', dz, 0, 0, 'WITHSCORES')
  local dAt = tonumber(d[2])
  for _ = 1, 100 do
    local p = redis.call('ZRANGE', pz, 0, 0, 'WITHSCORES')
    if not p[1] then return dAt, nil end
    local id, pAt = memberId(p[1]), tonumber(p[2])
    if id and ((id == d[1] and pAt == dAt) or placedStands(id, pAt, tonumber(redis.call('ZSCORE', dz, id)))) then return dAt, pAt end
    redis.call('ZREM', pz, p[1])
  end
  -- (more stale than a call drops: the next call goes on)
  return dAt, tonumber(redis.call('ZRANGE', pz, 0, 0, 'WITHSCORES')[2])
end

-- promote task `id` (its hash's fields h, DELAYED) at its place. Its place is written first
-- and its hash last: a key of its function's queue damaged by hand (WRONGTYPE) refuses it before
-- anything of it is written (lib/queue.lua `enqueue`), not after its hash says QUEUED.
local function promoteOne(Q, prefix, now, id, h)
  local key = prefix .. id
  local f = { 'state', 'QUEUED', 'update', now }
  -- (a hash written by hand may lack its function field: its entry names it)
  if not h[2] then
    h[2] = functionOf(nil, redis.call('HGET', key, 'data'))
    if not h[2] then return false end
    -- (written back: a cancel, a claim's put-back, the stats read the hash's field)
    f[#f + 1], f[#f + 2] = 'function', h[2]
  end
  local member, score = h[5], num(h[6])
  -- (a member garbled by hand would be taken from the queue as another id: placed again)
  if not member or memberId(member) ~= id or not score then
    member, score = placeOf(Q, id, num(h[7]) or now, num(h[4]) or 0)
    f[#f + 1], f[#f + 2], f[#f + 3], f[#f + 4] = 'member', member, 'score', score
  end
  enqueue(Q, h[2], h[3] or '', member, score)
  redis.call('HSET', key, unpack(f))
  redis.call('HDEL', key, 'runAt', 'reason')
  countDelayed(Q, h[2], -1)
  return true
end

-- promoteOne, a refusal (nothing of the task written) handed to `refused` (id, h, error): the
-- caller parks the task, and the promotion goes on with the others
local function promoteSafely(Q, prefix, now, id, h, refused)
  local ok, r = pcall(promoteOne, Q, prefix, now, id, h)
  if ok then return r end
  if not refused then error(r) end
  refused(id, h, r)
  return false
end

-- promote the tasks of `ids`, taken out of Q:delayed (by a version before: none is in
-- Q:delayed:placed but under a place it had); returns how many
local function promoteIds(Q, prefix, now, ids, refused)
  if #ids == 0 then return 0 end
  redis.call('ZREM', delayedKey(Q), unpack(ids))
  local n = 0
  for _, id in ipairs(ids) do
    local h = fields(prefix .. id, unpack(DELAYED_FIELDS))
    -- (anything else: cancelled, or edited by hand meanwhile: its zset entry was stale)
    if h and h[1] == 'DELAYED' then
      if h[5] then redis.call('ZREM', placedDelayedKey(Q), h[5]) end
      if promoteSafely(Q, prefix, now, id, h, refused) then n = n + 1 end
    end
  end
  return n
end

local function promote(Q, prefix, now, limit, refused)
  local dAt, placedAt = heads(Q)
  local first = earlier(dAt, placedAt)
  if first < 0 or first > now then return 0, first end
  local dz, pz = delayedKey(Q), placedDelayedKey(Q)
  -- In due order across both: first what only Q:delayed holds (delayed by a version before) due
  -- before the first placed one,
  local upTo = placedAt and placedAt <= now and '(' .. placedAt or now
  local ids = redis.call('ZRANGEBYSCORE', dz, '-inf', upTo, 'LIMIT', 0, limit)
  local seen = #ids
  local n = promoteIds(Q, prefix, now, ids, refused)
  -- then the placed ones, in place order, each with its entry under its id,
  if seen < limit then
    local due = redis.call('ZRANGEBYSCORE', pz, '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit - seen)
    if #due > 0 then
      local members, named = {}, {}
      for i = 1, #due, 2 do
        members[#members + 1] = due[i]
        named[#named + 1] = memberId(due[i]) or ''
      end
      seen = seen + #members
      redis.call('ZREM', pz, unpack(members))
      local at = redis.call('ZMSCORE', dz, unpack(named))
      local promoted = {}
      for i, m in ipairs(members) do
        local id = memberId(m)
        local h = placedStands(id, tonumber(due[2 * i]), tonumber(at[i])) and fields(prefix .. id, unpack(DELAYED_FIELDS))
        -- (anything else is stale: promoted, cancelled or moved by a version before)
        if h and h[1] == 'DELAYED' then
          promoted[#promoted + 1] = id
          if promoteSafely(Q, prefix, now, id, h, refused) then n = n + 1 end
        end
      end
      if #promoted > 0 then redis.call('ZREM', dz, unpack(promoted)) end
    end
  end
  -- then the rest of what only Q:delayed holds
  if seen < limit then
    ids = redis.call('ZRANGEBYSCORE', dz, '-inf', now, 'LIMIT', 0, limit - seen)
    seen = seen + #ids
    n = n + promoteIds(Q, prefix, now, ids, refused)
  end
  if seen >= limit then return n, now end
  return n, nextDue(Q)
end

-- the place a task due at `due`, not promoted yet, gets: its hash's, or its due time's
local function placeFor(prefix, id, due)
  local h = fields(prefix .. id, 'score', 'priority')
  return (h and num(h[1])) or due - ((h and num(h[2])) or 0) * PRIORITY_AGING_MS
end

local function firstUnpromoted(Q, prefix, now)
  local p = redis.call('ZRANGE', placedDelayedKey(Q), 0, 0, 'WITHSCORES')
  local d = redis.call('ZRANGE', delayedKey(Q), 0, 0, 'WITHSCORES')
  local ps, ds = tonumber(p[2]), tonumber(d[2])
  -- (one of a version before, due first: not placed yet, so before any member at its place)
  if ds and ds <= now and (not ps or ds < ps) then return { placeFor(prefix, d[1], ds), '' } end
  if ps and ps <= now then return { placeFor(prefix, memberId(p[1]) or '', ps), p[1] } end
  return nil
end
