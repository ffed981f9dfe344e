--[[
  lib/fields.lua: read a task's hash without raising when its key holds another type (written by
  hand, or by another app sharing the db). Redis keeps what a script wrote before it raised (a
  script has no rollback), so a script that raised half-way through a batch would lose or strand
  the tasks it had already touched; a key that is not a task hash is instead treated as "not a
  task of ours" by each script.

  fields(key, ...) returns the values of those fields (HMGET), or nil when the key is not a hash.
  int(v) is v as an integer, or nil when it is not a number (a field edited by hand).
]]
local function fields(key, ...)
  local r = redis.pcall('HMGET', key, ...)
  if type(r) == 'table' and r.err then return nil end
  return r
end

local function int(v)
  local n = tonumber(v)
  if not n or n ~= n or n == math.huge or n == -math.huge then return nil end
  return math.floor(n)
end

-- a count read from a hash (v), as JSON: itself when it is written as an integer already (as the
-- scripts write counts), else as `%d` formats it (0 for none): no number conversion, and no
-- printf, for what the scripts wrote
local function intText(v)
  if type(v) == 'string' and string.find(v, '^[1-9]%d?%d?%d?%d?%d?%d?%d?$') then return v end
  return string.format('%d', int(v) or 0)
end
