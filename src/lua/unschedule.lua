--[[
  unschedule.lua: Client.unschedule. Removes a schedule's definition, its due time and what its
  last firing did, in one step: no tick of it fires afterwards.

  KEYS[1] schedules (hash name -> definition)   KEYS[2] schedules:due (zset name -> tick)
  KEYS[3] schedules:last (hash name -> last firing)
  KEYS[4] the administrative calls' tokens (lib/admin-calls.lua)
  ARGV[1] name   ARGV[2] the call's token ('' none): recorded with the removal, so that the same
  call run again (a connection that closed before the reply came resends it) answers 1, what its
  first run did, not 0

  Returns 1 when a definition was removed, 0 when none had that name.
]]
--@include lib/admin-calls.lua

if adminCallDone(KEYS[4], ARGV[2]) then return 1 end
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
if removed == 0 then return 0 end
adminCallDid(KEYS[4], ARGV[2])
return 1
