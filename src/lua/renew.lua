--[[
  renew.lua: one batched heartbeat for all of a worker's running tasks. Each task's `update`
  (and its lease deadline index) is renewed only if this worker still holds its lease.

  KEYS[1] leases (zset)   KEYS[2] workerSeen (zset: worker -> when its next heartbeat is overdue)
  KEYS[3] workerSet   KEYS[4] grace
  KEYS[5] outage (hash: timeout = the monitors' taskTimeout, silence = the overdue time that
  began the last outage, seen = the last heartbeat or sweep)   KEYS[6] epoch (an id of this
  Redis's data, made here when missing)   KEYS[7] workerOwners (hash: worker -> the processes
  heartbeating under that address, lib/address-owners.lua)
  ARGV[1] task key prefix   ARGV[2] worker "host:port"   ARGV[3] its heartbeatInterval ms
  ARGV[4] the process, `<host>-<pid>-<random>`   ARGV[5..] pairs of task id, lease

  A worker is overdue when it missed three heartbeats. After a silence of the whole swarm,
  requeues are held for one taskTimeout (lib/swarm-silence.lua; requeue.lua makes the same
  check).

  Returns { lost, missing, now, epoch, cancelled, timeout, others, workers }:
    lost    = ids whose lease is held by someone else, or that are no longer RUNNING (fenced);
              not one this claim ended itself (END under its lease, or its retry written), which
              an END in flight beside the heartbeat makes common
    missing = ids whose hash is gone: re-asserted by the worker if Redis lost its data, that is
              if `epoch` differs from the one it saw before (see reassert.lua)
    cancelled = ids renewed that a cancel marked `cancelling` (cancel.lua): the stop it
              published may have reached no one (pub/sub keeps nothing: the worker's control
              subscription was being made again), so the worker stops them at its heartbeat
    timeout = the monitors' taskTimeout as they last wrote it (requeue.lua), or false when no
              monitor has yet: a worker whose heartbeatInterval is too slow for it warns, since
              its healthy tasks would be requeued as dead (src/worker.ts)
    others  = the other processes whose heartbeats under this address are not overdue, three
              entries each { name, overdue ms, heartbeatInterval ms, as text }
              (lib/address-owners.lua; judged by src/address-owners.ts): one whose
              entry moved forward between two of this worker's heartbeats heartbeats there too.
              Two live processes at one address (hosts behind NAT with equal private addresses,
              one `advertise` given to two) take each other for themselves as peers, drop each
              other's claim receipts and can repeat a lease; the worker says so (src/worker.ts).
              An entry that stands still is a process gone (the one before this one; Redis gone
              back to an older copy of its data, moving it back), said nothing of.
    workers = how many members `workers` holds (this worker among them): a worker that knows no
              peer while others are listed reads the list again at once, rather than at its next
              refresh (fetchWorkerInterval): one started beside others, which registered after it
              listed them, would otherwise know no peer to ask when cut off in its first seconds,
              and keep its tasks running (src/worker.ts `heardSwarmSize`)
]]
local prefix, worker = ARGV[1], ARGV[2]
--@include lib/now.lua
--@include lib/fields.lua
--@include lib/swarm-silence.lua
--@include lib/address-owners.lua
local now = nowMs()

local epoch = redis.call('GET', KEYS[6])
if not epoch then
  epoch = tostring(now)
  redis.call('SET', KEYS[6], epoch)
end

local timeout = noteSeen({ workerSeen = KEYS[2], grace = KEYS[4], outage = KEYS[5] }, now, nil)

local overdue = now + 3 * tonumber(ARGV[3])
redis.call('ZADD', KEYS[2], overdue, worker)
redis.call('SADD', KEYS[3], worker)
local others = otherOwners(KEYS[7], worker, ARGV[4], now)
writeOwners(KEYS[7], worker, others, ARGV[4], overdue, tonumber(ARGV[3]))

local lost, missing, cancelled = {}, {}, {}
for i = 5, #ARGV, 2 do
  local id, lease = ARGV[i], ARGV[i + 1]
  local key = prefix .. id
  local h = fields(key, 'state', 'lease', 'retry_lease', 'cancelling')
  if not h then
    lost[#lost + 1] = id -- its key holds something else now: not a task of ours
  elseif not h[1] then
    missing[#missing + 1] = id
  elseif h[1] == 'RUNNING' and h[2] == lease then
    redis.call('HSET', key, 'update', now)
    redis.call('ZADD', KEYS[1], now, id)
    if h[4] then cancelled[#cancelled + 1] = id end
  elseif (h[1] == 'END' and h[2] == lease) or h[3] == lease then
    -- this claim's own END (or retry) crossed the heartbeat: nothing to renew, nothing lost
  else
    lost[#lost + 1] = id
  end
end
-- (a whole number in a reply: Redis makes a Lua number an integer; none is false, a nil reply)
local othersFlat = {}
for _, o in ipairs(others) do
  othersFlat[#othersFlat + 1] = o[1]
  othersFlat[#othersFlat + 1] = o[2]
  othersFlat[#othersFlat + 1] = o[4]
end
return { lost, missing, now, epoch, cancelled, timeout or false, othersFlat, redis.call('SCARD', KEYS[3]) }
