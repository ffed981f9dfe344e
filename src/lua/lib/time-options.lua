--[[
  lib/time-options.lua: the options of a task entry that say how long its attempts may take and
  how often it is tried, checked as src/submission.ts checks them for Client.submit, so that an
  entry pushed by hand is held to the same rules (and the worker can trust what it reads):
    attempts  an integer from 1 to 1000
    backoff   ms (an integer from 0 to 2^31-1), or an object { type: 'fixed' | 'exponential',
              delay: ms, jitter?: a number from 0 to 1, max?: ms } and no other field
    timeout   ms per attempt, an integer from 1 to 2^31-1
  A field given as null is refused, as submit refuses it.

  timeOptionProblem(task) returns what is wrong (a message naming the field), or nil.
]]
local MAX_TIMER_MS = 2147483647
local MAX_ATTEMPTS = 1000

local function showValue(v)
  local ok, s = pcall(cjson.encode, v)
  return string.sub(ok and s or type(v), 1, 80)
end

local function isInt(v)
  return type(v) == 'number' and v == math.floor(v) and v > -math.huge and v < math.huge
end

local function msProblem(what, v, min)
  if not isInt(v) or v < min or v > MAX_TIMER_MS then
    return what .. ' must be an integer number of ms from ' .. min .. ' to ' .. MAX_TIMER_MS .. ', got ' .. showValue(v)
  end
end

local function backoffProblem(b)
  if type(b) == 'number' then return msProblem('backoff', b, 0) end
  local shape = "backoff must be ms or { type: 'fixed' | 'exponential', delay, jitter?, max? }, got " .. showValue(b)
  if type(b) ~= 'table' then return shape end
  for k in pairs(b) do
    -- (an array's keys are numbers: it is no object)
    if type(k) ~= 'string' then return shape end
    if k ~= 'type' and k ~= 'delay' and k ~= 'jitter' and k ~= 'max' then
      return 'backoff: unknown field "' .. k .. '" (known: type, delay, jitter, max)'
    end
  end
  if b.type ~= 'fixed' and b.type ~= 'exponential' then
    return "backoff.type must be 'fixed' or 'exponential', got " .. (b.type == nil and 'undefined' or showValue(b.type))
  end
  local p = msProblem('backoff.delay', b.delay, 0)
  if p then return p end
  local j = b.jitter
  if j ~= nil and not (type(j) == 'number' and j >= 0 and j <= 1) then
    return 'backoff.jitter must be a number from 0 to 1, got ' .. showValue(j)
  end
  if b.max ~= nil then return msProblem('backoff.max', b.max, 0) end
end

local function timeOptionProblem(task)
  local a = task.attempts
  if a ~= nil and (not isInt(a) or a < 1 or a > MAX_ATTEMPTS) then
    return 'attempts must be an integer from 1 to ' .. MAX_ATTEMPTS .. ', got ' .. showValue(a)
  end
  if task.backoff ~= nil then
    local p = backoffProblem(task.backoff)
    if p then return p end
  end
  if task.timeout ~= nil then return msProblem('timeout', task.timeout, 1) end
end
