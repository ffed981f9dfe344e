--[[
  submit.lua: the Client's submit. Refuses an id that is queued, running or retained, marks it
  queued (so `get` can say QUEUED and duplicates are caught before they reach the queue) and
  pushes the entry on the left, as the seed's producers do.

  KEYS[1] task key   KEYS[2] queued (set)   KEYS[3] newQueue
  ARGV[1] id   ARGV[2] raw task JSON

  Returns 1 when queued, 0 when the id is taken.
]]
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('LPUSH', KEYS[3], ARGV[2])
return 1
