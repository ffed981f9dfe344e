--[[
  claim.lua: take up to N entries from the right of the queue and mark each RUNNING for this
  worker, in one atomic step, so that a task is always either queued or claimed (never lost).
  An entry that cannot run is parked instead (lib/park.lua), with its reason: too large, not
  JSON as JSON.parse reads it (lib/strict-json.lua: the script decides validity, so a worker never
  claims what it cannot parse), no id or an id that is not one (lib/task-id.lua), no function, a
  function this worker lacks, or the id of a task that is running or ended (a duplicate).

  KEYS[1] newQueue   KEYS[2] taskSet   KEYS[3] leases (zset)   KEYS[4] queued (set)
  KEYS[5..8] the dead-letter store: entries, index, junk, stats (see lib/park.lua)
  KEYS[9] this worker's claim receipts (hash: token -> what that claim took)
  ARGV[1] task key prefix   ARGV[2] worker "host:port"   ARGV[3] max entries to take
  ARGV[4] max payload bytes
  ARGV[5] '1' = stop at an entry for a function not in the list and leave it at the head of
          the queue instead of parking it. An idle worker pipelines its claim behind its
          blocking wait, with the function list of when the wait began: a function added since
          must not get its tasks parked as unknown. The worker claims again, with its current
          list, when `held` says an entry was left.
  ARGV[6] token: names this claim ('' = none). A claim's reply can be lost after Redis ran it
          (a timeout, a broken connection, a resend after a reconnect); what it took is kept as
          a receipt under its token, so that the same token never claims twice: run again, it
          answers with the receipt (the tasks still held by that claim's leases). A token the
          worker gave up on is cancelled (claim-recover.lua leaves an empty receipt): a claim
          arriving with it later takes nothing.
  ARGV[7] n, then ARGV[8..7+n]: tokens whose replies the worker has received (receipts dropped)
  ARGV[8+n..] names of the functions this worker runs

  Returns { claimed, parked, held, now, receipt }:
    claimed = flat { id, raw, attempt, lease, ... }
    parked  = flat { reason, message, ... }
    held    = 1 if an entry was left at the head of the queue (ARGV[5] = '1'), else 0
    now     = Redis time of the claim (ms): the tasks' `start`
    receipt = 1 when a receipt was kept under the token (ack it with a later claim), else 0
]]
--@include lib/now.lua
--@include lib/fields.lua
--@include lib/task-id.lua
--@include lib/strict-json.lua
--@include lib/manual-end.lua
--@include lib/park.lua

local prefix, worker = ARGV[1], ARGV[2]
local max, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[4])
local holdUnknown = ARGV[5] == '1'
local token = ARGV[6]
local acks = tonumber(ARGV[7])
for i = 8, 7 + acks do redis.call('HDEL', KEYS[9], ARGV[i]) end
local functions = {}
for i = 8 + acks, #ARGV do functions[ARGV[i]] = true end
local held = 0
local now = nowMs()
local D = { entries = KEYS[5], index = KEYS[6], junk = KEYS[7], stats = KEYS[8], queued = KEYS[4], taskSet = KEYS[2], leases = KEYS[3], prefix = prefix }

local claimed, parked = {}, {}

-- This token ran before (its reply was lost) or was given up: answer from its receipt.
if token ~= '' then
  local receipt = redis.call('HGET', KEYS[9], token)
  if receipt == '' then return { claimed, parked, 0, now, 0 } end
  if receipt then
    local r = cjson.decode(receipt)
    for i = 2, #r, 3 do
      local h = fields(prefix .. r[i], 'state', 'lease', 'data')
      if h and h[1] == 'RUNNING' and h[2] == r[i + 1] then
        claimed[#claimed + 1] = r[i]
        claimed[#claimed + 1] = h[3]
        claimed[#claimed + 1] = r[i + 2]
        claimed[#claimed + 1] = r[i + 1]
      end
    end
    return { claimed, parked, 0, r[1], 1 }
  end
end

-- The task that holds `id` now: its hash's fields (nil when there is none), and `taken` when it
-- is running or ended (a new entry is then a duplicate), or its key is not a task hash at all.
local function holder(id)
  local h = fields(prefix .. id, 'state', 'attempt', 'claims')
  if not h then return nil, 'foreign' end
  if h[1] == 'RUNNING' or h[1] == 'END' then return h, h[1] end
  if h[1] or h[2] or h[3] then return h, nil end
  return nil, nil
end

-- Park an entry. It is recorded on its task (see lib/park.lua) only when the id names a task this
-- swarm knows (submitted through Client, or a hash QUEUED after a requeue or a hand-back) and no
-- other task holds it: an entry pushed by hand with an id never seen is junk, bounded by
-- deadLetterMax, so a producer of garbage with fresh ids cannot grow Redis without bound.
local function refuse(reason, message, raw, id, extra)
  local record = false
  if id then
    local h, taken = holder(id)
    record = not taken and (h ~= nil or redis.call('SISMEMBER', KEYS[4], id) == 1)
  end
  park(D, now, reason, message, raw, id, worker, record, extra)
  parked[#parked + 1] = reason
  parked[#parked + 1] = message
end

-- The id of an entry too large to decode, when it starts with it, as Client writes entries.
local function leadingId(raw)
  local s = string.match(string.sub(raw, 1, 600), '^%s*{%s*"id"%s*:%s*"([^"\\]+)"')
  if s and #s <= MAX_ID_BYTES then return s end
end

local function excerpt(raw)
  return string.sub(raw, 1, 80)
end

-- Bounded so that a queue full of bad entries cannot hold Redis in one long script.
for _ = 1, max + 64 do
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then break end
  if #raw > maxBytes then
    refuse('too_large', 'task entry is ' .. #raw .. ' bytes, over maxPayloadBytes ' .. maxBytes, raw, leadingId(raw), { truncate = true })
  else
    local ok, task = pcall(cjson.decode, raw)
    -- cjson decodes arrays to tables too: only an object is a task.
    if not ok or type(task) ~= 'table' or not string.find(raw, '^%s*{') then
      refuse('bad_json', 'task entry is not a JSON object: ' .. excerpt(raw), raw)
    else
      local id, why = taskId(task.id)
      local fn = task['function']
      if type(fn) ~= 'string' or fn == '' then fn = nil end
      local problem = jsonProblem(raw)
      if not id and why == 'missing' then
        refuse('missing_id', 'task entry has no "id" (string or integer): ' .. excerpt(raw), raw)
      elseif not id then
        refuse('bad_id', 'task entry is refused: ' .. why, raw)
      elseif problem then
        refuse('bad_json', 'task "' .. id .. '" is not valid JSON: ' .. problem, raw, id, { fn = fn })
      elseif not fn then
        refuse('missing_function', 'task "' .. id .. '" has no "function" name', raw, id)
      else
        local h, state = holder(id)
        if state == 'foreign' then
          refuse('bad_id', 'task "' .. id .. '": its key holds a value that is not a task hash', raw)
        elseif state then
          refuse('duplicate', 'task id "' .. id .. '" is already ' .. state, raw, id)
        elseif not functions[fn] and holdUnknown then
          redis.call('RPUSH', KEYS[1], raw)
          held = 1
          break
        elseif not functions[fn] then
          refuse('unknown_function', 'task "' .. id .. '" names function "' .. fn .. '", not registered on worker ' .. worker, raw, id, { fn = fn })
        else
          local key = prefix .. id
          -- (a count edited into junk by hand counts from 0 again rather than stop the claim)
          local attempt = (h and int(h[2]) or 0) + 1
          -- `claims` only grows (a hand-back gives back the attempt, not the claim): every
          -- claim's lease is new, so a stale copy can never match it.
          local lease = ((h and int(h[3]) or 0) + 1) .. ':' .. worker
          redis.call('HSET', key, 'state', 'RUNNING', 'start', now, 'update', now, 'worker', worker,
            'data', raw, 'lease', lease, 'function', fn, 'attempt', attempt, 'claims', string.match(lease, '^(%d+)'))
          if wantsManualEnd(task) then redis.call('HSET', key, 'manual_end', '1') end
          redis.call('SADD', KEYS[2], id)
          redis.call('ZADD', KEYS[3], now, id)
          redis.call('SREM', KEYS[4], id)
          claimed[#claimed + 1] = id
          claimed[#claimed + 1] = raw
          claimed[#claimed + 1] = attempt
          claimed[#claimed + 1] = lease
          if #claimed >= max * 4 then break end
        end
      end
    end
  end
end

local kept = 0
if token ~= '' and #claimed > 0 then
  local receipt = { now }
  for i = 1, #claimed, 4 do
    receipt[#receipt + 1] = claimed[i]
    receipt[#receipt + 1] = claimed[i + 3]
    receipt[#receipt + 1] = claimed[i + 2]
  end
  redis.call('HSET', KEYS[9], token, cjson.encode(receipt))
  redis.call('PEXPIRE', KEYS[9], 600000)
  kept = 1
end
return { claimed, parked, held, now, kept }
