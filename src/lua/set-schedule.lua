--[[
  set-schedule.lua: Client.schedule. Writes the definition and its first tick, unless the very
  same definition is stored already: then nothing changes (its due time and last firing are
  kept), so an application may set its schedules at every start. A changed definition starts
  over from its first tick after now; what its last firing did is kept (overlap 'skip' still
  sees that task).

  KEYS[1] schedules (hash name -> definition)   KEYS[2] schedules:due (zset name -> tick)
  KEYS[3] the administrative calls' tokens (lib/admin-calls.lua)
  ARGV[1] name   ARGV[2] definition (JSON)   ARGV[3] first tick (Redis ms)
  ARGV[4] the call's token ('' none): recorded with its answer (`<token>:1`, `<token>:0`), so
  that the same call run again (a connection that closed before the reply came resends it)
  answers what its first run did and writes nothing: run again, it would set the schedule anew
  after an unschedule made meanwhile (by another client), which answered that it removed it.

  Returns {1, due} when written, {0, due} when the same definition was there: due, the
  schedule's due time as this call leaves it (Redis ms, text), read in the same step, so that the
  caller is told the next tick of the schedule it set (read in a second command, it could be the
  tick of another client's schedule set between the two).
]]
--@include lib/admin-calls.lua

local name, def, token = ARGV[1], ARGV[2], ARGV[4]
-- (sent again, the call answers what its first run did, and the due time there is now)
local function answer(a) return { a, redis.call('ZSCORE', KEYS[2], name) or '' } end
if token ~= '' then
  if adminCallDone(KEYS[3], token .. ':1') then return answer(1) end
  if adminCallDone(KEYS[3], token .. ':0') then return answer(0) end
end
local written = 1
if redis.call('HGET', KEYS[1], name) == def and redis.call('ZSCORE', KEYS[2], name) then
  written = 0
else
  redis.call('HSET', KEYS[1], name, def)
  redis.call('ZADD', KEYS[2], ARGV[3], name)
end
if token ~= '' then adminCallDid(KEYS[3], token .. ':' .. written) end
return answer(written)
