--[[
  admin/move-slot.lua: move one Cluster slot, every key in it, to another primary in one step.
  Run on the primary that serves the slot, with the target already IMPORTING it (CLUSTER SETSLOT
  <slot> IMPORTING <source id> on the target). Not part of the swarm's function library: it is
  an operator's EVAL, and needs the rights of a cluster administrator (MIGRATE, CLUSTER).

  Why one script: a swarm's scripts read and write keys they build from ids (a task's hash) as
  well as the keys they declare. A migration key by key (redis-cli --cluster reshard) leaves the
  slot split between two nodes for a while, and a script can then fail halfway on the source (a
  key already moved), or run on the target and read a key not moved yet as missing. Inside one
  script no other command runs on the source: the keys go in one MIGRATE per batch, then the
  slot is given away, and every later command for it is redirected to a node that has it all.

  KEYS[1] a key in the slot (so that the call is routed to its node; not read)
  ARGV[1] the slot
  ARGV[2] the target's host, ARGV[3] its port, ARGV[4] its node id
  ARGV[5] ms MIGRATE may wait for the target
  ARGV[6] user, ARGV[7] password for the target (AUTH2), or empty strings

  Returns the number of keys moved.
]]
local slot, host, port, target, timeout = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local auth = {}
if ARGV[7] ~= '' then
  if ARGV[6] ~= '' then auth = { 'AUTH2', ARGV[6], ARGV[7] } else auth = { 'AUTH', ARGV[7] } end
end
local keys = redis.call('CLUSTER', 'GETKEYSINSLOT', slot, redis.call('CLUSTER', 'COUNTKEYSINSLOT', slot))
-- (in batches: Lua's unpack takes a few thousand values at most)
local BATCH = 1000
for i = 1, #keys, BATCH do
  local args = { 'MIGRATE', host, port, '', 0, timeout }
  for _, a in ipairs(auth) do args[#args + 1] = a end
  args[#args + 1] = 'KEYS'
  for j = i, math.min(i + BATCH - 1, #keys) do args[#args + 1] = keys[j] end
  redis.call(unpack(args))
end
redis.call('CLUSTER', 'SETSLOT', slot, 'NODE', target)
return #keys
