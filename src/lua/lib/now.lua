--[[
  lib/now.lua: Redis's clock, in ms since the epoch. Every time a script writes or compares comes
  from here, never from a host, so clock skew between hosts cannot make a live task look stale.
  A script runs at one instant: TIME is read once per call (finish-claim.lua's ENDs and claim
  share it).
]]
--@include lib/call-state.lua

local nowMsRead
onEachCall(function() nowMsRead = nil end)
local function nowMs()
  if not nowMsRead then
    local t = redis.call('TIME')
    nowMsRead = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return nowMsRead
end
