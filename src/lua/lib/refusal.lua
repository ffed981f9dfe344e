--[[
  lib/refusal.lua: what Redis said when it refused a command a script ran under pcall (a key of
  the swarm's damaged by hand: WRONGTYPE). redis.call raises a table { err = "<Redis's words>" };
  a Lua error is a string.

  refusal(err) returns the text; refusedAt(cmd, key, ...) runs a read under pcall and returns
  what Redis said if it refused it, else nil: what a script reads this way before its first
  write cannot refuse it halfway.
]]
local function refusal(err)
  return type(err) == 'table' and err.err or tostring(err)
end

local function refusedAt(cmd, key, ...)
  local r = redis.pcall(cmd, key, ...)
  if type(r) == 'table' and r.err then return r.err end
  return nil
end
