--[[
  claim-recover.lua: a worker gives up on claims whose replies it never got (a timeout, a broken
  connection). Each such claim may have run in Redis, taking tasks for this worker that nobody
  would heartbeat until a monitor requeued them (after taskTimeout, with an attempt charged).
  Its receipt (claim.lua) says what it took: those tasks, still held by that claim's leases, are
  returned to the worker, which hands them back to the queue at once. A claim that has not run
  yet never will take anything: its token is cancelled (an empty receipt), and claim.lua, should
  the command still arrive (a late resend), answers it with nothing.

  KEYS[1] this worker's claim receipts (hash: token -> what that claim took)
  ARGV[1] task key prefix   ARGV[2..] tokens

  Returns flat { id, lease, ... } of the tasks those claims hold.
]]
local prefix = ARGV[1]
local out = {}
for i = 2, #ARGV do
  local receipt = redis.call('HGET', KEYS[1], ARGV[i])
  if receipt and receipt ~= '' then
    local r = cjson.decode(receipt)
    for j = 2, #r, 3 do
      local h = redis.call('HMGET', prefix .. r[j], 'state', 'lease')
      if h[1] == 'RUNNING' and h[2] == r[j + 1] then
        out[#out + 1] = r[j]
        out[#out + 1] = r[j + 1]
      end
    end
  end
  redis.call('HSET', KEYS[1], ARGV[i], '')
end
if #ARGV > 1 then redis.call('PEXPIRE', KEYS[1], 600000) end
return out
