--[[
  claim-recover.lua: a worker gives up on claims whose replies it never got (a timeout, a broken
  connection). Each such claim may have run in Redis, taking tasks for this worker that nobody
  would heartbeat until a monitor requeued them (after taskTimeout, with an attempt charged).
  Its receipt (claim.lua) says what it took: those tasks, still held by that claim's leases, are
  handed back to their places in their functions' queues here (lib/hand-back.lua), in this script, so that the
  recovery holds even if this reply is lost too. A claim that has not run yet never will take
  anything: every token is left cancelled (an empty receipt), and claim.lua answers a late
  arrival of it (a resend after a reconnect) with nothing. Running this again changes nothing.

  KEYS[1] this worker's claim receipts (hash: token -> what that claim took)
  KEYS[2] leases (zset)   KEYS[3] taskSet   KEYS[4] newQueue
  ARGV[1] task key prefix   ARGV[2..] tokens

  Returns the ids handed back.
]]
--@include lib/now.lua
--@include lib/hand-back.lua

local K = { leases = KEYS[2], taskSet = KEYS[3], newQueue = KEYS[4], prefix = ARGV[1] }
local now = nowMs()
local back = {}
for i = 2, #ARGV do
  local receipt = redis.call('HGET', KEYS[1], ARGV[i])
  if receipt and receipt ~= '' then
    local r = cjson.decode(receipt)
    for j = 2, #r, 3 do
      if handBack(K, now, r[j], r[j + 1], 'claim reply lost') then back[#back + 1] = r[j] end
    end
  end
  redis.call('HSET', KEYS[1], ARGV[i], '')
end
if #ARGV > 1 then redis.call('PEXPIRE', KEYS[1], 600000) end
return back
