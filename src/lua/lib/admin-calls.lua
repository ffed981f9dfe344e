--[[
  lib/admin-calls.lua: the tokens of the administrative calls that did their work lately
  (retry-dead.lua, purge-dead.lua, set-schedule.lua, unschedule.lua, resume.lua, pause.lua), so
  that a call run again with its token answers what its first run did, and does nothing again.
  ioredis sends a call again on a new connection when the old one closed before its reply came
  (autoResendUnfulfilledCommands): the second run finds nothing left to do (the entry retried,
  the schedule gone, nothing paused), and would answer that the call did nothing. What these
  calls change has no hash of its own to keep the token on (a junk dead letter, a schedule, the
  pause set; a purged task's hash is deleted), so the tokens are kept in one key per partition
  (src/keys.ts `adminCalls`, `new-task:admin-calls`): a zset token -> the Redis ms its call did
  its work. A token is forgotten ADMIN_CALL_MEMORY_MS after its call (dropped by a later call,
  or with the key, which expires that long after its last write), far past any reconnect.

  adminCallDone(key, token) is true when a call with this token did its work already ('' never).
  adminCallDid(key, token) records that it has (nothing for '').
]]
--@include lib/now.lua

local ADMIN_CALL_MEMORY_MS = 600000

local function adminCallDone(key, token)
  return token ~= '' and redis.call('ZSCORE', key, token) ~= false
end

local function adminCallDid(key, token)
  if token == '' then return end
  local now = nowMs()
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%d', now - ADMIN_CALL_MEMORY_MS))
  redis.call('ZADD', key, now, token)
  redis.call('PEXPIRE', key, ADMIN_CALL_MEMORY_MS)
end
