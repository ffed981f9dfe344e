--[[
  retry-dead.lua: put one dead-letter entry's task back on the queue (after the cause is fixed,
  e.g. the missing function deployed). The entry is matched exactly, so two callers cannot
  both retry it.

  KEYS[1] deadLetter   KEYS[2] newQueue
  ARGV[1] the dead-letter entry, exactly as read   ARGV[2] the task JSON to queue

  Returns 1 when requeued, 0 when the entry was no longer there.
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
