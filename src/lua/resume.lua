--[[
  resume.lua: resume the swarm ('*') or one function, and wake idle workers at once (they block
  on the queue; a wake marker is what ends their wait when no new task comes).

  KEYS[1] newQueue (Q)
  ARGV[1] '*' for the swarm, or a function name

  Returns 1 when it was paused, 0 when it was not (nothing changes then).
]]
--@include lib/limits.lua

local Q = KEYS[1]
if redis.call('SREM', Q .. ':paused', ARGV[1]) == 0 then return 0 end
wake(Q)
return 1
