--[[
  admin/purge-slot.lua: delete every key this node holds in a slot it does not serve, on the
  target of a move (src/slot-move.ts): before the copy, what an earlier move that failed or died
  halfway left there (a later move would otherwise hand such keys, deleted on the source since,
  back to the swarm); after a copy that failed, what it took. Run with ASKING, the slot IMPORTING
  here (the node takes commands for it then). Refused on the node that serves the slot: its
  keys there are the swarm.

  KEYS[1] a key in the slot (routes the call; not read)
  ARGV[1] the slot

  Returns the number of keys deleted.
]]
local slot = tonumber(ARGV[1])
for line in string.gmatch(redis.call('CLUSTER', 'NODES'), '[^\n]+') do
  local fields = {}
  for f in string.gmatch(line, '%S+') do fields[#fields + 1] = f end
  if fields[3] and string.find(',' .. fields[3] .. ',', ',myself,', 1, true) then
    for i = 9, #fields do
      local lo, hi = string.match(fields[i], '^(%d+)%-(%d+)$')
      lo = tonumber(lo or string.match(fields[i], '^(%d+)$'))
      hi = tonumber(hi) or lo
      if lo and slot >= lo and slot <= hi then
        return redis.error_reply('ERR purge-slot: this node serves slot ' .. slot .. ': its keys there are not leftovers')
      end
    end
  end
end
local keys = redis.call('CLUSTER', 'GETKEYSINSLOT', slot, redis.call('CLUSTER', 'COUNTKEYSINSLOT', slot))
for i = 1, #keys, 1000 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 999, #keys)))
end
return #keys
