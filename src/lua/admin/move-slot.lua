--[[
  admin/move-slot.lua: move one Cluster slot, every key in it, to another primary in one step.
  Run on the primary that serves the slot, with the target already IMPORTING it (CLUSTER SETSLOT
  <slot> IMPORTING <source id> on the target). Not part of the swarm's function library: it is
  an operator's EVAL, and needs the rights of a cluster administrator (MIGRATE, CLUSTER).

  Why one script: a swarm's scripts read and write keys they build from ids (a task's hash) as
  well as the keys they declare. A migration key by key (redis-cli --cluster reshard) leaves the
  slot split between two nodes for a while, and a script can then fail halfway on the source (a
  key already moved), or run on the target and read a key not moved yet as missing. Inside one
  script no other command runs on the source: the keys are copied in one MIGRATE per batch, then
  deleted here, then the slot is given away, and every later command for it is redirected to a
  node that has it all.

  All or nothing: the keys are copied (COPY), and deleted here only once every batch has landed.
  A target that refuses a batch (out of memory, gone, too slow) fails the script before anything
  is deleted, and this node still serves the whole swarm; what the target took is in a slot it
  does not serve (admin/purge-slot.lua deletes it). A batch moved and deleted as it went left the
  swarm split across the two nodes.

  KEYS[1] the move's lock (src/slot-move.ts), a key in the slot: it routes the call here, must
          still hold ARGV[8], and is neither copied nor left behind
  ARGV[1] the slot
  ARGV[2] the target's host, ARGV[3] its port, ARGV[4] its node id
  ARGV[5] ms MIGRATE may wait for the target
  ARGV[6] user, ARGV[7] password for the target (AUTH2), or empty strings
  ARGV[8] the lock's token

  Returns the number of keys moved (the lock not counted).
]]
local slot, host, port, target, timeout = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('GET', KEYS[1]) ~= ARGV[8] then
  return redis.error_reply('ERR moveSwarmSlot: the move lock is not ours (it expired, or another move took it): nothing moved')
end
local auth = {}
if ARGV[7] ~= '' then
  if ARGV[6] ~= '' then auth = { 'AUTH2', ARGV[6], ARGV[7] } else auth = { 'AUTH', ARGV[7] } end
end
local keys = {}
for _, k in ipairs(redis.call('CLUSTER', 'GETKEYSINSLOT', slot, redis.call('CLUSTER', 'COUNTKEYSINSLOT', slot))) do
  if k ~= KEYS[1] then keys[#keys + 1] = k end
end
-- (in batches: Lua's unpack takes a few thousand values at most)
local BATCH = 1000
for i = 1, #keys, BATCH do
  local args = { 'MIGRATE', host, port, '', 0, timeout, 'COPY', 'REPLACE' }
  for _, a in ipairs(auth) do args[#args + 1] = a end
  args[#args + 1] = 'KEYS'
  for j = i, math.min(i + BATCH - 1, #keys) do args[#args + 1] = keys[j] end
  redis.call(unpack(args))
end
for i = 1, #keys, BATCH do
  redis.call('UNLINK', unpack(keys, i, math.min(i + BATCH - 1, #keys)))
end
redis.call('DEL', KEYS[1])
redis.call('CLUSTER', 'SETSLOT', slot, 'NODE', target)
return #keys
