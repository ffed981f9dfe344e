--[[
  set-limit.lua: set or remove a swarm-wide limit (lib/limits.lua), and let what it held back
  take its turn again: a group set aside by its old limit goes back in turn everywhere it waited
  (the next claim checks the new limit), and idle workers are woken. A rate's recent starts are
  kept for its new window.

  Running counts are kept only for targets a limit watches (so a swarm without limits pays
  nothing for them): a limit set where none was counts the target's RUNNING tasks now, from the
  lease index (O(tasks running), once); a limit changed keeps its count; a limit removed drops
  it.

  KEYS[1] newQueue (Q)   KEYS[2] leases (zset: the RUNNING tasks)
  ARGV[1] target: 'f:<function>' or 'g:<group>'   ARGV[2] the limit's JSON, or '' to remove it
  ARGV[3] task key prefix

  Returns 1; an error, nothing written, when a key the group's turn is given back in is of
  another type (written by hand).
]]
--@include lib/limits.lua
--@include lib/fields.lua

local Q, target, prefix = KEYS[1], ARGV[1], ARGV[3]
-- (a group's held-back state unreadable, a key of it written by hand as another type: refused
-- before the limit is written, not after, where the call failed with the new limit in place)
if string.sub(target, 1, 2) == 'g:' then
  local why = unblockRefusal(Q, string.sub(target, 3))
  if why then return redis.error_reply(why) end
end
local had = limitOf(Q, target)
if ARGV[2] == '' then
  redis.call('HDEL', Q .. ':limits', target)
  redis.call('HDEL', Q .. ':running', target)
else
  redis.call('HSET', Q .. ':limits', target, ARGV[2])
  if limitCache then limitCache[target] = nil end
  noLimits, limitsChecked = false, false
  local l = limitOf(Q, target)
  if l and not had then
    local kind, name = string.sub(target, 1, 1), string.sub(target, 3)
    local n = 0
    for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
      local h = fields(prefix .. id, 'state', 'function', 'group')
      if h and h[1] == 'RUNNING' and ((kind == 'f' and h[2] == name) or (kind == 'g' and h[3] == name)) then n = n + 1 end
    end
    if n > 0 then redis.call('HSET', Q .. ':running', target, n) else redis.call('HDEL', Q .. ':running', target) end
  end
  -- The recent starts expire 2 x the window after the last one (lib/limits.lua acquire): under a
  -- longer window they would go while it still covers them, and as many again could start.
  if l and l.rate and redis.call('EXISTS', rateKey(Q, target)) == 1 then redis.call('PEXPIRE', rateKey(Q, target), l.rate.per * 2) end
end
if string.sub(target, 1, 2) == 'g:' then unblock(Q, string.sub(target, 3)) end
wake(Q)
return 1
