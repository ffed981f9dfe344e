--[[
  lib/refusal.lua: what Redis said when it refused a command a script ran under pcall (a key of
  the swarm's damaged by hand: WRONGTYPE). redis.call raises a table { err = "<Redis's words>" };
  a Lua error is a string.

  refusal(err) returns the text.
]]
local function refusal(err)
  return type(err) == 'table' and err.err or tostring(err)
end
