--[[
  lib/summed-call.lua: a command over a list of any length, the sum of its integer replies.
  Lua's unpack raises past about 8,000 values (a worker of thousands of functions names two keys
  of each; a worker back from a long outage acknowledges every claim it gave up in one claim), so
  the list goes one call per chunk when it is longer than that; one call, as written, otherwise.

  summedCall(command, key, list, from, to): `command key list[from..to]` (key nil: no key
  before the list), from and to defaulting to the whole list; 0 for an empty range.
  existing(keys): how many of keys exist (EXISTS).
]]
local SUMMED_CALL_CHUNK = 4000

local function summedCall(command, key, list, from, to)
  from, to = from or 1, to or #list
  local n = 0
  for at = from, to, SUMMED_CALL_CHUNK do
    local last = math.min(to, at + SUMMED_CALL_CHUNK - 1)
    if key then
      n = n + redis.call(command, key, unpack(list, at, last))
    else
      n = n + redis.call(command, unpack(list, at, last))
    end
  end
  return n
end

local function existing(keys)
  return summedCall('EXISTS', nil, keys)
end
