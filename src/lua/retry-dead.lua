--[[
  retry-dead.lua: put one dead-letter entry's task back on the queue (after the cause is fixed,
  e.g. the missing function deployed). The entry is matched exactly, so two callers cannot
  both retry it. A task parked for exhausting maxAttempts has an ended hash: it is reset to
  QUEUED with its attempts at 0 (its history kept), or the claim would see a duplicate.

  KEYS[1] deadLetter   KEYS[2] newQueue
  ARGV[1] the dead-letter entry, exactly as read   ARGV[2] the task JSON to queue
  ARGV[3] task key prefix

  Returns 1 when requeued, 0 when the entry was no longer there.
]]
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
local ok, letter = pcall(cjson.decode, ARGV[1])
if ok and type(letter) == 'table' and letter.reason == 'max_attempts' and type(letter.id) == 'string' then
  local key = ARGV[3] .. letter.id
  if redis.call('HGET', key, 'state') == 'END' then
    redis.call('HSET', key, 'state', 'QUEUED', 'attempt', 0)
    redis.call('HDEL', key, 'outcome', 'error', 'result', 'end', 'lease', 'worker')
    redis.call('PERSIST', key)
  end
end
redis.call('LPUSH', KEYS[2], ARGV[2])
return 1
