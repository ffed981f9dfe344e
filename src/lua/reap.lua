--[[
  reap.lua: the monitor's cleanup of ended tasks. Takes ids from the `ended` list (filled by
  finish.lua), removes them from `tasks`, moves `manual_end` ones to `end-task` (hash kept),
  and lets the others' hashes expire after the retention (0 = delete at once, as the seed).

  KEYS[1] ended (list)   KEYS[2] taskSet   KEYS[3] endQueue
  ARGV[1] task key prefix   ARGV[2] retention ms   ARGV[3] max ids this call

  Returns the number of ids cleaned up.
]]
local prefix, retention, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ids = redis.call('LPOP', KEYS[1], limit)
if not ids then return 0 end
for _, id in ipairs(ids) do
  local key = prefix .. id
  redis.call('SREM', KEYS[2], id)
  if redis.call('HGET', key, 'state') == 'END' then
    if redis.call('HGET', key, 'manual_end') == '1' then
      redis.call('SADD', KEYS[3], id)
    elseif retention == 0 then
      redis.call('DEL', key)
    else
      redis.call('PEXPIRE', key, retention)
    end
  end
end
return #ids
