--[[
  lib/claim-reply.lua: what a claim answers (claim.lua's header: one flat array), and the receipt
  of it kept under the claim's token.

  claimed: the reply being built, its header's six places first (filled here), then four items
  per claimed task { id, raw, attempt (as text), lease }; parked: two per parked entry (nil:
  none).

  claimReply(claimed, parked, wakeAt, now, receipt, workers) fills the header, appends the
  parked entries, and returns the reply.
  keepReceipt(receipts, token, claimed, nowS) keeps what the claim took under its token in the
  receipts hash, as claim.lua answers a resent token: 1 when one was kept (a token and a task
  taken), else 0.
]]
local CLAIMED_FIRST = 7

local function claimReply(claimed, parked, wakeAt, now, receipt, workers)
  claimed[1], claimed[2], claimed[3], claimed[4] = wakeAt, now, receipt, workers
  claimed[5], claimed[6] = (#claimed - CLAIMED_FIRST + 1) / 4, parked and #parked / 2 or 0
  if parked then
    for i = 1, #parked do claimed[#claimed + 1] = parked[i] end
  end
  return claimed
end

local function keepReceipt(receipts, token, claimed, nowS)
  if token == '' or #claimed < CLAIMED_FIRST then return 0 end
  local receipt = { nowS }
  for i = CLAIMED_FIRST, #claimed, 4 do
    receipt[#receipt + 1] = claimed[i]
    receipt[#receipt + 1] = claimed[i + 3]
    receipt[#receipt + 1] = claimed[i + 2]
  end
  -- (`ttl` written beside it: added, not overwritten, it was missing, so the hash was made again
  -- here, lost or deleted since the claim that set its expiry, and it has none: set now, or a
  -- worker that dies before its next refresh leaves the hash for good)
  if redis.call('HSET', receipts, token, cjson.encode(receipt), 'ttl', nowS) > 1 then redis.call('PEXPIRE', receipts, '600000') end
  return 1
end
