--[[
  park-claimed.lua: a worker parks a task it claimed but cannot take, alone: the others claimed
  with it run. claim.lua already refuses what JSON.parse would refuse (lib/strict-json.lua), so
  this is the runtime's safety net: whatever else makes one claimed task impossible to start
  must not strand the tasks claimed with it (the worker would start none of them, and the monitor
  would requeue them all until maxAttempts). Fenced by lease: a task this worker no longer holds
  is left alone.

  KEYS[1] taskSet   KEYS[2] leases (zset)   KEYS[3] queued (set)
  KEYS[4..7] the dead-letter store: entries, index, junk, stats (see lib/park.lua)
  KEYS[8] newQueue (Q: its limits are released, lib/limits.lua)
  ARGV[1] task key prefix   ARGV[2] worker   ARGV[3..] quads of id, lease, reason, message

  Returns the ids parked (not one whose group's turns, given back by its release, are damaged by
  hand: it is left RUNNING, for the monitor to requeue once mended).
]]
--@include lib/now.lua
--@include lib/fields.lua
--@include lib/park.lua
--@include lib/limits.lua

local prefix, worker = ARGV[1], ARGV[2]
local now = nowMs()
local D = { entries = KEYS[4], index = KEYS[5], junk = KEYS[6], stats = KEYS[7], queued = KEYS[3], taskSet = KEYS[1], leases = KEYS[2], prefix = prefix, Q = KEYS[8] }
local out = {}
for i = 3, #ARGV, 4 do
  local id, lease, reason, message = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local h = fields(prefix .. id, 'state', 'lease', 'data', 'function', 'group')
  -- (its group's turns, which its release gives back, read first: one damaged by hand refused
  -- the call after the release had lowered its running counts, the task RUNNING still, released
  -- again by its requeue, and the tasks after it unparked. Refused so, it is left RUNNING, for
  -- the monitor to requeue once the key is mended; the others are parked.)
  if h and h[1] == 'RUNNING' and h[2] == lease and not (h[5] and h[5] ~= '' and unblockRefusal(KEYS[8], h[5])) then
    release(KEYS[8], h[4], h[5])
    park(D, now, reason, message, h[3] or '', id, worker, true, { fn = h[4] })
    out[#out + 1] = id
  end
end
return out
