--[[
  lib/stale-receipts.lua: receipts a worker's earlier process left under its address. A worker's
  tokens are `<process>.<n>` (src/claim-ledger.ts), and a process that stopped or died leaves
  the receipts of its last few claims in the hash (acknowledgements not yet sent, claims in
  flight): no reply of its will ever be sent again, and what its claims took is recovered by the
  monitors (their leases stop being renewed). A new process at the same address renews the
  hash's expiry at every refresh, so without this each restart would leave its few for good.

  dropOthersReceipts(receipts, token) drops the fields of the hash that are neither `ttl` nor a
  receipt of token's process. Run with the expiry's refresh (a worker's first claim, and about
  once a minute): HKEYS of a hash of a few fields. Under ACL rules written before it (HKEYS not
  allowed), it leaves the hash as it is.
]]
--@include lib/summed-call.lua

local function dropOthersReceipts(receipts, token)
  local own = string.match(token, '^(.*%.)[^.]*$')
  if not own then return end
  local fields = redis.pcall('HKEYS', receipts)
  if type(fields) ~= 'table' or fields.err then return end
  local stale = {}
  for _, f in ipairs(fields) do
    if f ~= 'ttl' and string.sub(f, 1, #own) ~= own then stale[#stale + 1] = f end
  end
  summedCall('HDEL', receipts, stale)
end
