--[[
  submit.lua: the Client's submit, of one task or a batch (submitMany), all or nothing: when any
  id of the batch is taken (queued, delayed, running or retained), nothing is written. Or, in
  the mode `each`, a batch of submits that have nothing to do with each other (Client.submit's
  calls of one tick, sent together): a taken id refuses only its own task.

  A task of the seed's kind (no group, priority 0, no delay, no dedupe key) is marked queued (so
  `get` can say QUEUED and duplicates are caught before they reach the queue) and pushed on the
  left of the queue, as the seed's producers do; the next claim routes it, or takes it at once
  (claim.lua's fast path).

  A task with a group or a priority is placed in its function's queue at once (lib/queue.lua),
  as a claim would route it: its turn and its priority then count from now, not from when the
  claims have routed whatever waits on `new-task` ahead of it (a flood of another group pushed
  just before would otherwise go first). Idle workers are woken (a marker into an empty queue).

  A task with a due time later than now is written DELAYED (reason delay) with its whole entry,
  placed at its due time (its member numbered now, in submission order), in Q:delayed under its
  id and in Q:delayed:placed under its member (lib/delayed.lua); a claim promotes it when due. When it is the earliest due, idle workers are
  woken, so that their next wait ends when it falls due.

  A task with a dedupe key is not queued while the task that holds the key (Q:keys) is queued,
  delayed or running: the reply names that task instead. The key is freed when its task ends.

  A new task (its id free, its dedupe key free) whose entry is over ARGV[3] bytes is refused,
  nothing written for it, when it is over the maxPayloadBytes of every live worker (the hash
  ARGV[4], of the workers listed in ARGV[5], read once, at the first such entry; a listed worker
  with none there refuses nothing, an entry of a worker not listed counts for nothing): no worker
  would take it (src/payload-limit.ts). One whose id is taken or whose key is held is answered
  so, as any other: a submit sent again finds its own entry, written by the first send. In `all`
  mode that refuses the batch, as a taken id does. The keys are named in ARGV, not KEYS, and read
  under pcall: a producer whose ACL rules predate the hash would be refused every submit at the
  FCALL for a key in KEYS; read here, its refusal refuses nothing, as before the hash.

  KEYS[1] queued (set)   KEYS[2] newQueue (Q)
  ARGV[1] task key prefix   ARGV[2] 'all' or 'each' (above)
  ARGV[3] the size in bytes over which an entry is measured against ARGV[4] ('' = none)
  ARGV[4] workerMaxPayload (hash: worker -> its maxPayloadBytes, register.lua)
  ARGV[5] workerSet (set: the listed workers, whose limits alone count)
  ARGV[6..] eight per task: id, raw task JSON, function ('' = the seed's kind: through
          `new-task`; else placed, written whole), group ('' = none), priority, manual_end ('1'
          or ''), due ('' = now, 'at:<ms>' Redis time, 'in:<ms>'), dedupe key ('' = none)

  Returns one per task: 1 queued; 0 its id is taken; -1 free, but not written because another
  of the batch is refused (`all`: a batch with a 0 or a too_large writes nothing; never in
  `each`); { 'too_large', the largest limit of the live workers } (above); { id } of
  the task that holds its dedupe key (nothing written for it); or (`each` only) an error reply,
  when its writes raised. (`each`: a task whose dedupe key an earlier task of the call holds,
  whose writes raised, is answered as a submit of its own: that task was never made, the key
  is free.)
]]
--@include lib/now.lua
--@include lib/delayed.lua
--@include lib/enqueue.lua
--@include lib/refusal.lua

local Q, queued, prefix = KEYS[2], KEYS[1], ARGV[1]
local each = ARGV[2] == 'each'
local now = nowMs()
local checkOver = tonumber(ARGV[3])
-- the largest maxPayloadBytes of the live workers (0: none declared), read at the first entry
-- over checkOver
local largest

-- that largest, when `raw` is over it (and over checkOver), else nil
local function overWorkers(raw)
  if not checkOver or #raw <= checkOver then return nil end
  if largest == nil then
    largest = 0
    -- the listed workers' limits: one listed with none (a worker of the version before the hash,
    -- one listed again before it writes its limit again; a value not a number) might take
    -- anything, and an entry of one no longer listed is no live worker's
    -- (under pcall: ACL rules from before the hash refuse the reads, a key of another type too)
    local ok, workers = pcall(redis.call, 'SMEMBERS', ARGV[5])
    local ok2, fields = pcall(redis.call, 'HGETALL', ARGV[4])
    if ok and ok2 then
      local limits = {}
      for j = 1, #fields, 2 do limits[fields[j]] = tonumber(fields[j + 1]) end
      for _, w in ipairs(workers) do
        local n = limits[w]
        if not n or n <= 0 then
          largest = 0
          break
        end
        if n > largest then largest = n end
      end
    end
  end
  if largest > 0 and #raw > largest then return largest end
  return nil
end

-- the task a dedupe key names, when that task is queued, delayed or running
local function keyHolder(k, batchKeys)
  if batchKeys[k] then return batchKeys[k] end
  local other = redis.call('HGET', dedupeKey(Q), k)
  if not other then return nil end
  local h = fields(prefix .. other, 'state')
  local state = h and h[1]
  if state == 'QUEUED' or state == 'DELAYED' or state == 'RUNNING' then return other end
  if not state and redis.call('SISMEMBER', queued, other) == 1 then return other end
  return nil
end

-- 1. Checks, nothing written: every id free (and not twice in the batch), dedupe keys resolved.
-- (heldInBatch[j]: task j's dedupe key, when a task before it in this call holds it)
local out, refused, seen, batchKeys, heldInBatch = {}, false, {}, {}, {}
for i = 6, #ARGV, 8 do
  local id, k = ARGV[i], ARGV[i + 7]
  local holder = k ~= '' and keyHolder(k, batchKeys)
  if holder then
    if batchKeys[k] then heldInBatch[#out + 1] = k end
    out[#out + 1] = { holder }
  elseif seen[id] or redis.call('EXISTS', prefix .. id) == 1 or redis.call('SISMEMBER', queued, id) == 1 then
    out[#out + 1] = 0
    refused = true
  else
    -- (measured last, a task that would be written: one submitted again, its entry written by
    -- the first send, is answered as taken or held above, and the client knows it for its own)
    local limit = overWorkers(ARGV[i + 1])
    if limit then
      out[#out + 1] = { 'too_large', limit }
      refused = true
    else
      seen[id] = true
      if k ~= '' then batchKeys[k] = id end
      out[#out + 1] = 1
    end
  end
end
if refused and not each then
  for j = 1, #out do
    if out[j] == 1 then out[j] = -1 end
  end
  return out
end

-- (a batch with a due time: Q:delayed:placed asked of first, so that a caller whose ACL rules
-- predate that key is refused before anything is written, not after a hash is written DELAYED
-- in no zset)
for i = 6, #ARGV, 8 do
  if ARGV[i + 6] ~= '' and ARGV[i + 2] ~= '' then
    redis.call('EXISTS', placedDelayedKey(Q))
    break
  end
end

-- 2. Writes.
-- (the earliest due before this call: read at the first delayed task, which a batch of the
-- seed's kind has none of)
local earliest
local woke = false
-- one task's writes (i: where its eight ARGV begin)
local function write(i)
  local id, raw, fn, g, priority, manualEnd, due, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4]) or 0, ARGV[i + 5], ARGV[i + 6], ARGV[i + 7]
  local key = prefix .. id
  local runAt = now
  if string.sub(due, 1, 3) == 'at:' then runAt = tonumber(string.sub(due, 4)) or now
  elseif string.sub(due, 1, 3) == 'in:' then runAt = now + (tonumber(string.sub(due, 4)) or 0) end
  -- (the task's hash is written last, after every write that can be refused, a key damaged by
  -- hand: a refusal leaves no task that says QUEUED or DELAYED in no queue; a dedupe key whose
  -- task was not made is free: keyHolder, above, reads that task's state)
  if k ~= '' then redis.call('HSET', dedupeKey(Q), k, id) end
  local extra = k ~= '' and { 'key', k } or nil
  if fn == '' then
    enqueueTask(key, queued, Q, id, raw, false)
    if k ~= '' then redis.call('HSET', key, 'key', k) end
  elseif runAt > now then
    -- placed now, at its due time: Q:delayed holds its member, so that tasks due at one ms are
    -- promoted, and start, in the order they were submitted, not in the order of their ids
    -- (numbered a block at a time: as many as the tasks of the batch from this one on)
    local member, score = placeOf(Q, id, runAt, priority, math.floor((#ARGV - i) / 8) + 1)
    if earliest == nil then earliest = firstDue(Q) end
    redis.call('ZADD', placedDelayedKey(Q), runAt, member)
    redis.call('ZADD', delayedKey(Q), runAt, id)
    countDelayed(Q, fn, 1)
    local f = { 'state', 'DELAYED', 'update', now, 'function', fn, 'data', raw, 'runAt', runAt, 'reason', 'delay', 'member', member, 'score', score }
    if g ~= '' then f[#f + 1], f[#f + 2] = 'group', g end
    if priority ~= 0 then f[#f + 1], f[#f + 2] = 'priority', priority end
    if manualEnd == '1' then f[#f + 1], f[#f + 2] = 'manual_end', '1' end
    if k ~= '' then f[#f + 1], f[#f + 2] = 'key', k end
    redis.call('HSET', key, unpack(f))
    if earliest < 0 or runAt < earliest then
      earliest = runAt
      woke = true
    end
  else
    enqueueTask(key, queued, Q, id, raw, true, fn, g, priority, manualEnd == '1', extra)
  end
end
for i = 6, #ARGV, 8 do
  local at = (i - 6) / 8 + 1
  local k = heldInBatch[at]
  if each and k then
    -- Its key's holder is a task of this call, written before it. Refused (below), that task
    -- was never made and the key is free: this one is a submit of its own, as it would be sent
    -- a moment later (answered with the refused one's id, it named a task that never was;
    -- test/refused-submit-dedupe-holder.test.ts). Its id, not checked when its key was held,
    -- is checked now.
    local id = ARGV[i]
    if batchKeys[k] then
      out[at] = { batchKeys[k] }
    elseif seen[id] or redis.call('EXISTS', prefix .. id) == 1 or redis.call('SISMEMBER', queued, id) == 1 then
      out[at] = 0
    else
      seen[id] = true
      batchKeys[k] = id
      out[at] = 1
    end
  end
  if out[at] == 1 then
    if each then
      -- A write that raises (a key of the swarm's edited by hand into another type) fails its
      -- own submit, answered with the error, as it would have failed alone; the others of the
      -- call, written before or after it, stand. (What it wrote before it raised stays, as a
      -- lone submit's would: a script has no rollback; the dedupe key it wrote names a task
      -- keyHolder finds not made.)
      local ok, e = pcall(write, i)
      if not ok then
        out[at] = { err = refusal(e) }
        local own = ARGV[i + 7]
        if own ~= '' and batchKeys[own] == ARGV[i] then batchKeys[own] = nil end
      end
    else
      write(i)
    end
  end
end
if woke then wake(Q) end
return out
