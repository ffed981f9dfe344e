--[[
  lib/address-owners.lua: the processes heartbeating under one worker address, in
  `workers:owners` (hash: worker address -> "<process>@<overdue ms>@<heartbeatInterval ms> ..."),
  each with the time its next heartbeat is overdue (three heartbeats, as `workers:seen`) and its
  pace, so that a reader can tell when it last heartbeated (src/address-owners.ts). A process that missed
  three is forgotten. One process is the normal case; two live ones at one address (hosts
  behind NAT with equal private addresses, one `advertise` given to two) tell each other apart
  from a process gone by whether its entry moves forward, read after read (src/address-owners.ts),
  and the stop of one leaves the address listed for the others (register.lua).

  Process names are `<host>-<pid>-<random>` (src/redis.ts connectionOwner): no space, no `@`.
  Anything can write to Redis: a value that is not entries yields none, and a key of another
  type is read as empty and left alone (raising here would fail every heartbeat).
]]

-- at most this many processes are remembered under one address (a worker restarting in a loop
-- behind a shared address must not grow the field without end)
local OWNERS_KEPT = 8

-- The processes under `worker` whose heartbeats are not overdue at `now`, but `me` and those in
-- `ignore` (a set of names, or nil): a list of { name, overdue text, number, heartbeatInterval text }, the soonest overdue
-- first, at most OWNERS_KEPT - 1 (entries that never fall overdue, written by hand or by a
-- clock far ahead, are the ones left out, not the live processes').
local function otherOwners(key, worker, me, now, ignore)
  local others = {}
  local ok, v = pcall(redis.call, 'HGET', key, worker)
  if not ok or type(v) ~= 'string' then return others end
  for name, overdue, every in string.gmatch(v, '([^ @]+)@(%d+)@?(%d*)') do
    local at = tonumber(overdue)
    if name ~= me and at > now and not (ignore and ignore[name]) then others[#others + 1] = { name, overdue, at, every ~= '' and every or '0' } end
  end
  table.sort(others, function(a, b) return a[3] < b[3] end)
  for i = #others, OWNERS_KEPT, -1 do others[i] = nil end
  return others
end

-- Write `others` (otherOwners) under `worker`, and `me` overdue at `overdue`, heartbeating every
-- `every` ms, when given; none: the field is dropped. A key of another type is left as it is.
local function writeOwners(key, worker, others, me, overdue, every)
  local parts = {}
  for i, o in ipairs(others) do parts[i] = o[1] .. '@' .. o[2] .. '@' .. o[4] end
  if me and me ~= '' then parts[#parts + 1] = me .. '@' .. string.format('%d', overdue) .. '@' .. string.format('%d', every) end
  if #parts == 0 then
    pcall(redis.call, 'HDEL', key, worker)
  else
    pcall(redis.call, 'HSET', key, worker, table.concat(parts, ' '))
  end
end
