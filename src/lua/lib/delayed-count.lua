--[[
  lib/delayed-count.lua: Q:counts 'd:<fn>', the tasks of fn that are DELAYED (a delay, or a retry
  in its backoff), for Client.stats. Raised where a task becomes DELAYED (submit.lua, finish.lua),
  lowered where it stops being so (its promotion, cancel.lua); a count back at 0 is dropped, so
  the hash does not grow with every function that ever had one.
]]

local function countDelayed(Q, fn, by)
  if not fn then return end
  if redis.call('HINCRBY', Q .. ':counts', 'd:' .. fn, by) <= 0 then redis.call('HDEL', Q .. ':counts', 'd:' .. fn) end
end
