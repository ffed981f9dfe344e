--[[
  lib/exists.lua: existing(keys) is how many of keys exist (EXISTS), for a list of any length:
  one EXISTS while the list fits Lua's C stack, else one per chunk (unpack raises past about
  8,000 values: a worker of thousands of functions names two keys of each).
]]
local EXISTS_CHUNK = 4000

local function existing(keys)
  local n = 0
  for from = 1, #keys, EXISTS_CHUNK do
    n = n + redis.call('EXISTS', unpack(keys, from, math.min(#keys, from + EXISTS_CHUNK - 1)))
  end
  return n
end
