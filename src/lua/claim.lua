--[[
  claim.lua: take up to N entries from the right of the queue and mark each RUNNING for this
  worker, in one atomic step, so that a task is always either queued or claimed (never lost).
  Entries that cannot run (bad JSON, no id or function, a function this worker lacks, a
  duplicate id, too large) are parked in the dead-letter list with their reason instead.

  KEYS[1] newQueue   KEYS[2] taskSet   KEYS[3] leases (zset)   KEYS[4] queued (set)
  KEYS[5] deadLetter (list)
  ARGV[1] task key prefix   ARGV[2] worker "host:port"   ARGV[3] max entries to take
  ARGV[4] max payload bytes
  ARGV[5] '1' = stop at an entry for a function not in the list and leave it at the head of
          the queue instead of parking it. An idle worker pipelines its claim behind its
          blocking wait, with the function list of when the wait began: a function added since
          must not get its tasks parked as unknown. The worker claims again, with its current
          list, when `held` says an entry was left.
  ARGV[6..] names of the functions this worker runs

  Returns { claimed, parked, held }:
    claimed = flat { id, raw, attempt, lease, ... }
    parked  = flat { reason, message, ... }
    held    = 1 if an entry was left at the head of the queue (ARGV[5] = '1'), else 0
  Time is Redis's (TIME), never the worker's clock.
]]
local prefix, worker = ARGV[1], ARGV[2]
local max, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[4])
local holdUnknown = ARGV[5] == '1'
local functions = {}
for i = 6, #ARGV do functions[ARGV[i]] = true end
local held = 0

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local claimed, parked = {}, {}

local function park(reason, message, raw, id)
  local entry = { reason = reason, message = message, raw = raw, at = now, worker = worker }
  if id then
    entry.id = id
    -- no longer queued (a Client.submit marked it so); a duplicate's id stays taken by its original
    if reason ~= 'duplicate' then redis.call('SREM', KEYS[4], id) end
  end
  redis.call('LPUSH', KEYS[5], cjson.encode(entry))
  parked[#parked + 1] = reason
  parked[#parked + 1] = message
end

local function wantsManualEnd(task)
  if task.manual_end == true then return true end
  local d = task.data
  if type(d) == 'string' then
    local ok, decoded = pcall(cjson.decode, d)
    if ok then d = decoded end
  end
  return type(d) == 'table' and d.manual_end == true
end

-- Bounded so that a queue full of bad entries cannot hold Redis in one long script.
for _ = 1, max + 64 do
  local raw = redis.call('RPOP', KEYS[1])
  if not raw then break end
  if #raw > maxBytes then
    park('too_large', 'task entry is ' .. #raw .. ' bytes, over maxPayloadBytes ' .. maxBytes, raw)
  else
    local ok, task = pcall(cjson.decode, raw)
    -- cjson decodes arrays to tables too: only an object is a task.
    if not ok or type(task) ~= 'table' or not string.find(raw, '^%s*{') then
      park('bad_json', 'task entry is not a JSON object: ' .. string.sub(raw, 1, 80), raw)
    elseif (type(task.id) ~= 'string' and type(task.id) ~= 'number') or task.id == '' then
      park('missing_id', 'task entry has no "id" (string or number)', raw)
    elseif type(task['function']) ~= 'string' or task['function'] == '' then
      park('missing_function', 'task "' .. tostring(task.id) .. '" has no "function" name', raw, tostring(task.id))
    else
      local id = tostring(task.id)
      local fn = task['function']
      local key = prefix .. id
      local state = redis.call('HGET', key, 'state')
      if state == 'RUNNING' or state == 'END' then
        park('duplicate', 'task id "' .. id .. '" is already ' .. state, raw, id)
      elseif not functions[fn] and holdUnknown then
        redis.call('RPUSH', KEYS[1], raw)
        held = 1
        break
      elseif not functions[fn] then
        park('unknown_function', 'task "' .. id .. '" names function "' .. fn .. '", not registered on worker ' .. worker, raw, id)
      else
        local attempt = redis.call('HINCRBY', key, 'attempt', 1)
        -- `claims` only grows (a hand-back gives back the attempt, not the claim): every
        -- claim's lease is new, so a stale copy can never match it.
        local lease = redis.call('HINCRBY', key, 'claims', 1) .. ':' .. worker
        redis.call('HSET', key, 'state', 'RUNNING', 'start', now, 'update', now, 'worker', worker,
          'data', raw, 'lease', lease, 'function', fn)
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

return { claimed, parked, held }
