--[[
  lib/now.lua: Redis's clock, in ms since the epoch. Every time a script writes or compares comes
  from here, never from a host, so clock skew between hosts cannot make a live task look stale.
  A script runs at one instant: TIME is read once per call (finish-claim.lua's ENDs and claim
  share it).
]]
--@include lib/call-state.lua

local nowMsRead, nowTextRead
onEachCall(function() nowMsRead, nowTextRead = nil, nil end)
local function nowMs()
  if not nowMsRead then
    local t = redis.call('TIME')
    nowMsRead = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return nowMsRead
end

-- nowMs() written as an integer (as `%d`; Lua would print it with %.14g), made once per call:
-- the ENDs and the claim of one call write it several times
local function nowText()
  if not nowTextRead then nowTextRead = string.format('%d', nowMs()) end
  return nowTextRead
end

-- t (ms) written as an integer: nowText() when it is now
local function msText(t)
  if t == nowMs() then return nowText() end
  return string.format('%d', t)
end
