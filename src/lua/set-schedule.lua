--[[
  set-schedule.lua: Client.schedule. Writes the definition and its first tick, unless the very
  same definition is stored already: then nothing changes (its due time and last firing are
  kept), so an application may set its schedules at every start. A changed definition starts
  over from its first tick after now; what its last firing did is kept (overlap 'skip' still
  sees that task).

  KEYS[1] schedules (hash name -> definition)   KEYS[2] schedules:due (zset name -> tick)
  ARGV[1] name   ARGV[2] definition (JSON)   ARGV[3] first tick (Redis ms)

  Returns 1 when written, 0 when the same definition was there.
]]
local name, def = ARGV[1], ARGV[2]
if redis.call('HGET', KEYS[1], name) == def and redis.call('ZSCORE', KEYS[2], name) then return 0 end
redis.call('HSET', KEYS[1], name, def)
redis.call('ZADD', KEYS[2], ARGV[3], name)
return 1
