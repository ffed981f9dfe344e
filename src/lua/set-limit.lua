--[[
  set-limit.lua: set or remove a swarm-wide limit (lib/limits.lua), and let what it held back
  take its turn again: a group set aside by its old limit goes back in turn everywhere it waited
  (the next claim checks the new limit), and idle workers are woken. A rate's recent starts are
  kept for its new window.

  KEYS[1] newQueue (Q)
  ARGV[1] target: 'f:<function>' or 'g:<group>'   ARGV[2] the limit's JSON, or '' to remove it

  Returns 1.
]]
--@include lib/limits.lua

local Q, target = KEYS[1], ARGV[1]
if ARGV[2] == '' then redis.call('HDEL', Q .. ':limits', target)
else
  redis.call('HSET', Q .. ':limits', target, ARGV[2])
  -- The recent starts expire 2 x the window after the last one (lib/limits.lua acquire): under a
  -- longer window they would go while it still covers them, and as many again could start.
  local l = limitOf(Q, target)
  if l and l.rate and redis.call('EXISTS', rateKey(Q, target)) == 1 then redis.call('PEXPIRE', rateKey(Q, target), l.rate.per * 2) end
end
if string.sub(target, 1, 2) == 'g:' then unblock(Q, string.sub(target, 3)) end
wake(Q)
return 1
