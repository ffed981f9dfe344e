--[[
  lib/holder.lua: the task that holds an id now, as a claim routing a new entry under that id
  asks (claim.lua): the entry is routed only when no task holds it.

  holder(prefix, id) returns its hash's fields { state, attempt, claims, member, unrouted } (nil
  when there is none) and what holds it: the state ('RUNNING', 'END', 'DELAYED', or 'QUEUED' once
  routed: a new entry is then a duplicate), 'foreign' when its key is not a task hash at all, or
  nil when nothing does.
]]
--@include lib/fields.lua

local function holder(prefix, id)
  local key = prefix .. id
  -- (a new entry's id names no key yet: an EXISTS answers that for a quarter of what reading
  -- the five fields costs, their nil replies each made into Lua)
  if redis.call('EXISTS', key) == 0 then return nil, nil end
  local h = fields(key, 'state', 'attempt', 'claims', 'member', 'unrouted')
  if not h then return nil, 'foreign' end
  if h[1] == 'RUNNING' or h[1] == 'END' or h[1] == 'DELAYED' then return h, h[1] end
  if h[1] == 'QUEUED' and h[4] then return h, 'QUEUED' end
  if h[1] or h[2] or h[3] then return h, nil end
  return nil, nil
end
