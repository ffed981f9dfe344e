--[[
  lib/address-owners.lua: the processes heartbeating under one worker address, in
  `workers:owners` (hash: worker address -> "<process>@<overdue ms> ..."), each with the time
  its next heartbeat is overdue (three heartbeats, as `workers:seen`). A process that missed
  three is forgotten. One process is the normal case; two live ones at one address (hosts
  behind NAT with equal private addresses, one `advertise` given to two) are told (renew.lua),
  and the stop of one leaves the address listed for the others (register.lua).

  Process names are `<host>-<pid>-<random>` (src/redis.ts connectionOwner): no space, no `@`.
  Two hosts behind one address have names of two hosts; the processes of one host at one
  address came one after the other (the port was the first's until it died), unless two were
  given one `advertise`.
]]

-- at most this many processes are remembered under one address (a worker restarting in a loop
-- behind a shared address must not grow the field without end)
local OWNERS_KEPT = 8

-- the processes under `worker` whose heartbeats are not overdue at `now`, but `me`:
-- a list of { name, overdue text }
local function otherOwners(key, worker, me, now)
  local others = {}
  local v = redis.call('HGET', key, worker)
  if v then
    for name, overdue in string.gmatch(v, '([^ @]+)@(%d+)') do
      if name ~= me and tonumber(overdue) > now and #others < OWNERS_KEPT - 1 then others[#others + 1] = { name, overdue } end
    end
  end
  return others
end

-- `<host>` of a process name `<host>-<pid>-<random>` (the name itself when it is not one)
local function hostOf(name)
  return string.match(name, '^(.*)%-%d+%-%x+$') or name
end

-- otherOwners, less the processes of `me`'s host: a worker registering at an address takes it
-- over from the process before it there (which held the port until it died, and whose
-- heartbeats may not be overdue yet: told of it, a worker restarted after a crash would take
-- its own predecessor for a second process). One on this host that still lives, two workers
-- given one `advertise`, writes itself again at its next heartbeat, and is told then.
local function otherHostsOwners(key, worker, me, now)
  local host, kept = hostOf(me), {}
  for _, o in ipairs(otherOwners(key, worker, me, now)) do
    if hostOf(o[1]) ~= host then kept[#kept + 1] = o end
  end
  return kept
end

-- write `others` (otherOwners) under `worker`, and `me` overdue at `overdue` when given; none:
-- the field is dropped
local function writeOwners(key, worker, others, me, overdue)
  local parts = {}
  for i, o in ipairs(others) do parts[i] = o[1] .. '@' .. o[2] end
  if me and me ~= '' then parts[#parts + 1] = me .. '@' .. string.format('%d', overdue) end
  if #parts == 0 then
    redis.call('HDEL', key, worker)
  else
    redis.call('HSET', key, worker, table.concat(parts, ' '))
  end
end
