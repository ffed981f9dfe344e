--[[
  resume.lua: resume the swarm ('*') or one function, and wake idle workers at once (they block
  on the queue; a wake marker is what ends their wait when no new task comes).

  KEYS[1] newQueue (Q)   KEYS[2] the administrative calls' tokens (lib/admin-calls.lua)
  ARGV[1] '*' for the swarm, or a function name   ARGV[2] the call's token ('' none): recorded
  with the resume, so that the same call run again (a connection that closed before the reply
  came resends it) answers 1, what its first run did, not 0

  Returns 1 when it was paused, 0 when it was not (nothing changes then).
]]
--@include lib/limits.lua
--@include lib/admin-calls.lua

local Q = KEYS[1]
if adminCallDone(KEYS[2], ARGV[2]) then return 1 end
if redis.call('SREM', Q .. ':paused', ARGV[1]) == 0 then return 0 end
wake(Q)
adminCallDid(KEYS[2], ARGV[2])
return 1
