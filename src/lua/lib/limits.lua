--[[
  lib/limits.lua: swarm-wide limits, per function and per group, enforced where tasks start: in
  the claim script. `Q:limits` (hash 'f:<fn>' / 'g:<group>' -> JSON {concurrency?, rate?:
  {max, per}}), `Q:running` (hash, same fields -> tasks RUNNING now) and, per rate limit, a zset
  of recent starts (lib/names.lua rateKey).

  Every claim acquires (running + 1, and a start in each rate window that applies); every way a
  RUNNING task stops running releases (END, hand-back, requeue, parking, cancel), each script
  acting only on a task RUNNING under the lease it names, so a claim is counted once and
  released once. Only targets a limit watches are counted: when a limit is set on a target that
  had none, set-limit.lua counts what runs of it then; when it is removed, its count goes. A release that makes queued work claimable again (a group unblocked, a
  function below its limit with tasks queued) pushes a wake marker on the queue, so idle
  workers claim it at once.

  Default group '' (no group) is not counted.
]]
--@include lib/names.lua
--@include lib/call-state.lua
--@include lib/refusal.lua

-- (what one call read of the limits: forgotten before the next call; made at the first limit
-- read, not for every call, most of which read none)
local limitCache = nil
-- true when the call knows no limit is set (the limits hash does not exist): claim.lua sets it
-- from its own EXISTS, others learn it at their first limitOf
local noLimits = false
local limitsChecked = false
onEachCall(function()
  limitCache = nil
  noLimits = false
  limitsChecked = false
end)

-- an integer from 1 to 2^31 - 1, as src/effects/limits.ts accepts it
local function positiveInt(v)
  return type(v) == 'number' and v == math.floor(v) and v >= 1 and v <= 2147483647
end

-- a stored limit as src/effects/limits.ts checkLimit writes it: { concurrency?, rate?: { max,
-- per } }, nothing else, at least one of them. Anything else (written by hand) is no limit at
-- all: a claim must not fail on it (a rate of max 0 would have no first start to wait for), and
-- Client.limits() shows it as invalid.
local function validLimit(l)
  if type(l) ~= 'table' then return false end
  local any = false
  for k, v in pairs(l) do
    if k == 'concurrency' then
      if not positiveInt(v) then return false end
    elseif k == 'rate' then
      if type(v) ~= 'table' or not positiveInt(v.max) or not positiveInt(v.per) then return false end
      for rk in pairs(v) do
        if rk ~= 'max' and rk ~= 'per' then return false end
      end
    else
      return false
    end
    any = true
  end
  return any
end

-- the limit set for target ('f:<fn>' or 'g:<group>'), or false
-- is any limit set? (read once per call)
local function anyLimits(Q)
  if noLimits then return false end
  if not limitsChecked then
    limitsChecked = true
    if redis.call('EXISTS', Q .. ':limits') == 0 then noLimits = true end
  end
  return not noLimits
end

local function limitOf(Q, target)
  if not anyLimits(Q) then return false end
  local v = limitCache and limitCache[target]
  if v == nil then
    v = false
    local raw = redis.call('HGET', Q .. ':limits', target)
    if raw then
      local ok, l = pcall(cjson.decode, raw)
      if ok and validLimit(l) then v = l end
    end
    limitCache = limitCache or {}
    limitCache[target] = v
  end
  return v
end

-- nil when a task may start under target's limit now; else when to try again (Redis ms), or -1
-- for "when one of its tasks ends"
local function blockedUntil(Q, target, now)
  local l = limitOf(Q, target)
  if not l then return nil end
  if type(l.concurrency) == 'number' then
    if (tonumber(redis.call('HGET', Q .. ':running', target)) or 0) >= l.concurrency then return -1 end
  end
  if type(l.rate) == 'table' and type(l.rate.max) == 'number' and type(l.rate.per) == 'number' then
    local rk = rateKey(Q, target)
    redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - l.rate.per)
    if redis.call('ZCARD', rk) >= l.rate.max then
      local first = redis.call('ZRANGE', rk, 0, 0, 'WITHSCORES')
      return tonumber(first[2]) + l.rate.per
    end
  end
  return nil
end

local function targetsOf(fn, g)
  if g and g ~= '' then return { 'f:' .. fn, 'g:' .. g } end
  return { 'f:' .. fn }
end

-- a task of (fn, g) starts now, under `lease`; `<lease>:<id>` names this start in the rate windows,
-- uniquely (a lease alone does not: the tasks of one claim call share its token, and their first
-- claims the count). (Named only where a rate window is written: a claim's path calls this for
-- every task, and most start under no rate, nor any limit.)
local function acquire(Q, fn, g, now, lease, id, noRate)
  -- (no limit set: nothing is counted, and no target needs naming)
  if not anyLimits(Q) then return end
  for _, target in ipairs(targetsOf(fn, g)) do
    local l = limitOf(Q, target)
    -- counted only while a limit watches the target (set-limit.lua counts what runs when one is
    -- set): a swarm without limits pays nothing here
    if l then redis.call('HINCRBY', Q .. ':running', target, '1') end
    if not noRate and l and type(l.rate) == 'table' and type(l.rate.per) == 'number' then
      local rk = rateKey(Q, target)
      redis.call('ZADD', rk, now, lease .. ':' .. id)
      redis.call('PEXPIRE', rk, l.rate.per * 2)
    end
  end
end

local woken, wakePushed = false, false
onEachCall(function() woken, wakePushed = false, false end)
local function wake(Q)
  if woken then return end
  woken = true
  -- Only into an empty queue: a worker blocks on the queue only while it is empty, and a queue
  -- that holds anything ends every wait already. So at most one marker is ever queued, the
  -- oldest entry (stats() subtracts it).
  if redis.call('LLEN', Q) == 0 then
    redis.call('LPUSH', Q, 'wake')
    wakePushed = true
  end
end

-- did this call push a wake marker (wake, above)?
local function pushedWake()
  return wakePushed
end

-- group g, held back by its limit, takes its turn again in each function it waited in (the next
-- claim checks its limit anew). Every read comes before the first write: a key of another type
-- (written by hand) refuses the call with the group still held back where a release finds it,
-- never taken out of `blocked` and left out of its turns.
local function unblock(Q, g)
  local bk = blockedInKey(Q, g)
  local fs = redis.call('SMEMBERS', bk)
  if #fs == 0 then return end
  local turns = {}
  for i, f in ipairs(fs) do
    if redis.call('ZSCORE', fnKey(Q, f, 'blocked'), g) and redis.call('ZCARD', groupKey(Q, f, g)) > 0 then
      local last = redis.call('ZRANGE', fnKey(Q, f, 'groups'), -1, -1, 'WITHSCORES')
      turns[i] = (tonumber(last[2]) or 0) + 1
    end
  end
  for i, f in ipairs(fs) do
    redis.call('ZREM', fnKey(Q, f, 'blocked'), g)
    if turns[i] then
      redis.call('ZADD', fnKey(Q, f, 'groups'), turns[i], g)
      wake(Q)
    end
  end
  redis.call('DEL', bk)
end

-- why unblock(Q, g) would be refused halfway (a key it reads or writes of another type), or nil.
-- An END reads this before its first write: refused halfway, it had written the task END and
-- taken the group out of its function's `blocked`, leaving it out of every turn (its tasks never
-- ran), the task's dedupe key held and its end never told.
local function unblockRefusal(Q, g)
  local ins = redis.pcall('SMEMBERS', blockedInKey(Q, g))
  if ins.err then return ins.err end
  for _, f in ipairs(ins) do
    local why = refusedAt('ZSCORE', fnKey(Q, f, 'blocked'), g) or refusedAt('ZCARD', groupKey(Q, f, g)) or refusedAt('ZCARD', fnKey(Q, f, 'groups'))
    if why then return why end
  end
  return nil
end

-- a task of (fn, g) stopped running
local function release(Q, fn, g)
  if not fn then return end
  -- (no limit set, and no group a limit could have held back: nothing to release)
  if (not g or g == '') and not anyLimits(Q) then return end
  for _, target in ipairs(targetsOf(fn, g)) do
    -- (counted only while a limit watches it; a count back at 0 is dropped: one field per
    -- function and group ever run would pile up)
    if limitOf(Q, target) and redis.call('HINCRBY', Q .. ':running', target, '-1') <= 0 then redis.call('HDEL', Q .. ':running', target) end
  end
  if g and g ~= '' then unblock(Q, g) end
  if limitOf(Q, 'f:' .. fn) and redis.call('EXISTS', fnKey(Q, fn, 'groups')) == 1 then wake(Q) end
end
