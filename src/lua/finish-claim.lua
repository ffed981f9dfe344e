--[[
  finish-claim.lua: finish.lua, then claim.lua, in one call: the ENDs of the tasks that settled
  together and the claim of the slots they free (end-and-claim-next). Both run whole, unchanged
  (finish.lua's work is lib/finish-tasks.lua's function; an include of a script calls its
  function in the library: src/scripts.ts), so each keeps the meaning its own header gives, and
  both run at one instant (one TIME per call, lib/now.lua); this one tells each where its KEYS
  and ARGV are among its own (none copied: a copy costs about what a redis.call does), and
  keeps the wake marker the ENDs pushed for idle workers (below): the one thing it does that
  finish.lua then claim.lua, sent apart, do not need.

  KEYS: claim.lua's KEYS, among which finish.lua's (its leases, ended, newQueue and taskSet are
  claim.lua's KEYS[3], KEYS[10], KEYS[1] and KEYS[2])
  ARGV[1] n = how many of the following ARGV are finish.lua's, after its task key prefix (which
  is claim.lua's ARGV[1])
  ARGV[2..n+1] finish.lua's ARGV but its first   ARGV[n+2..] claim.lua's ARGV

  Returns claim.lua's reply (one flat array) with finish.lua's, one item per END, appended: the
  caller, which sent the ENDs, knows how many to take off its end.
]]
--@include lib/fields.lua
--@include lib/limits.lua
--@include lib/finish-tasks.lua
--@include claim.lua

local n = SMALL_INT_OF[ARGV[1]] or tonumber(ARGV[1])
-- (finish.lua's first argument is the task key prefix, claim.lua's first)
local ended = finishTasks(KEYS[3], KEYS[10], KEYS[1], KEYS[2], ARGV[n + 2], ARGV, 2, n + 1)
-- An END that freed a limited slot pushed a wake marker for the idle workers (lib/limits.lua),
-- and the claim below, routing the queue, would drop it before any of them saw it: a group's
-- limit spans functions, so what the release made claimable may be for a function only other
-- workers run. The marker is pushed again once the claim has run. (Nothing of this call ran
-- before finish.lua: a marker pushed so far is its.)
local woke = pushedWake()
local claimed = claim(KEYS, ARGV, n + 1)
if woke then redis.call('LPUSH', KEYS[1], 'wake') end
-- (one flat reply: a nested one costs Redis a conversion per table)
for i = 1, #ended do claimed[#claimed + 1] = ended[i] end
return claimed
