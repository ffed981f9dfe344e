--[[
  pause.lua: pause the swarm ('*') or one function (claim.lua takes nothing paused).

  KEYS[1] newQueue (Q)   KEYS[2] the administrative calls' tokens (lib/admin-calls.lua)
  ARGV[1] '*' for the swarm, or a function name   ARGV[2] the call's token ('' none): recorded
  with the pause, so that the same call run again (a connection that closed before the reply
  came resends it) does nothing. Run again as a plain SADD, a pause and the resume made after
  it, both in flight when the connection closed, were sent again in that order: the pause was
  applied again, and the resume, finding its own token, left it so (resume.lua).

  Returns 1.
]]
--@include lib/admin-calls.lua

if adminCallDone(KEYS[2], ARGV[2]) then return 1 end
redis.call('SADD', KEYS[1] .. ':paused', ARGV[1])
adminCallDid(KEYS[2], ARGV[2])
return 1
