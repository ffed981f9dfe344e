--[[
  hand-back.lua: a worker that stops gracefully returns the tasks it could not finish to the
  places in their functions' queues (lib/hand-back.lua: fenced by lease; the attempt is not counted against
  maxAttempts).

  KEYS[1] leases (zset)   KEYS[2] taskSet   KEYS[3] newQueue
  ARGV[1] task key prefix   ARGV[2] reason (for the `requeued` event)   ARGV[3..] pairs of task id, lease

  Returns the ids handed back.
]]
--@include lib/now.lua
--@include lib/hand-back.lua

local K = { leases = KEYS[1], taskSet = KEYS[2], newQueue = KEYS[3], prefix = ARGV[1] }
local now = nowMs()
local back = {}
for i = 3, #ARGV, 2 do
  if handBack(K, now, ARGV[i], ARGV[i + 1], ARGV[2]) then back[#back + 1] = ARGV[i] end
end
return back
