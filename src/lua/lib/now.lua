--[[
  lib/now.lua: Redis's clock, in ms since the epoch. Every time a script writes or compares comes
  from here, never from a host, so clock skew between hosts cannot make a live task look stale.
]]
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
