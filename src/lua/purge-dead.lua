--[[
  purge-dead.lua: delete one dead letter by its key, and the parked task's hash with it (the
  task is given up for good: its id can be used again).

  KEYS[1..4] the dead-letter store: entries, index, junk, stats
  KEYS[5] the administrative calls' tokens (lib/admin-calls.lua)
  ARGV[1] the entry's key   ARGV[2] task key prefix   ARGV[3] the call's token ('' none): recorded
  with the purge, so that the same call run again (a connection that closed before the reply
  came resends it) answers 1, what its first run did, not 0

  Returns 1 when deleted, 0 when there is no entry with that key.
]]
--@include lib/fields.lua
--@include lib/admin-calls.lua

if adminCallDone(KEYS[5], ARGV[3]) then return 1 end
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
local ok, letter = pcall(cjson.decode, entry)
if ok and type(letter) == 'table' and letter.task and type(letter.id) == 'string' then
  local key = ARGV[2] .. letter.id
  local h = fields(key, 'dead')
  if h and h[1] == ARGV[1] then redis.call('DEL', key) end
end
redis.call('HINCRBY', KEYS[4], 'purged:' .. (ok and type(letter) == 'table' and tostring(letter.reason) or 'unknown'), 1)
adminCallDid(KEYS[5], ARGV[3])
return 1
