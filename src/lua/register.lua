--[[
  register.lua: list a worker in `workers` and mark it seen now (Redis time), or take it out.

  KEYS[1] workerSet   KEYS[2] workerSeen (zset: worker -> when it is overdue)   KEYS[3] epoch
  KEYS[4] workerFunctions (hash: worker -> the functions it serves, JSON)
  KEYS[5] workerStates (hash: worker -> its machine state, for the dashboard; dropped on remove)
  KEYS[6] outage (hash; its `timeout` is the monitors' taskTimeout, written by requeue.lua)
  KEYS[7] workerOwners (hash: worker -> the processes heartbeating under that address, lib/address-owners.lua)
  KEYS[8] workerMaxPayload (hash: worker -> its maxPayloadBytes, read by a Client given none)
  ARGV[1] worker "host:port"   ARGV[2] "add" | "remove"   ARGV[3] the process, `<host>-<pid>-<random>`
  ARGV[4] its heartbeatInterval ms (add)   ARGV[5] the functions it serves, JSON (add)
  ARGV[6] its maxPayloadBytes (add): with another live process under the address (twins), the
          larger of its and the one written is kept
  ARGV[4..] (remove) processes listed under the address that this worker judged gone (src/address-owners.ts)

  A process adding itself is written under the address beside the other processes whose
  heartbeats there are not overdue (lib/address-owners.lua): one gone, the one before it there,
  stands still and is said nothing of (src/address-owners.ts). A process taking itself out
  leaves the address listed while another process's heartbeats under it are not overdue (that
  one still lives there), unless this one judged it gone.

  Returns { Redis time in ms, the epoch of Redis's data (made when missing, see renew.lua),
  the monitors' taskTimeout or false (none yet; as renew.lua returns it: a worker whose
  heartbeatInterval is too slow for it is told at start, not a heartbeat later) }.
]]
--@include lib/now.lua
--@include lib/address-owners.lua
local now = nowMs()
local worker, owner = ARGV[1], ARGV[3]
if ARGV[2] == 'add' then
  local overdue = now + 3 * tonumber(ARGV[4] or 1000)
  redis.call('SADD', KEYS[1], worker)
  redis.call('ZADD', KEYS[2], overdue, worker)
  if ARGV[5] then redis.call('HSET', KEYS[4], worker, ARGV[5]) end
  local others = otherOwners(KEYS[7], worker, owner, now)
  if ARGV[6] then
    -- (another live process under the address, its limit written: the larger of the two kept, so
    -- that a Client does not refuse what that one takes; src/payload-limit.ts)
    -- (under pcall: a key of another type, written by hand, is left alone; a Client then refuses
    -- nothing on the workers' account, and raising here would fail the worker's start)
    local limit = tonumber(ARGV[6])
    local ok, v = pcall(redis.call, 'HGET', KEYS[8], worker)
    local held = #others > 0 and ok and tonumber(v)
    pcall(redis.call, 'HSET', KEYS[8], worker, held and held > limit and held or ARGV[6])
  end
  writeOwners(KEYS[7], worker, others, owner, overdue, tonumber(ARGV[4] or 1000))
else
  local gone = {}
  for i = 4, #ARGV do gone[ARGV[i]] = true end
  local others = otherOwners(KEYS[7], worker, owner, now, gone)
  if #others == 0 then
    redis.call('SREM', KEYS[1], worker)
    redis.call('ZREM', KEYS[2], worker)
    redis.call('HDEL', KEYS[4], worker)
    redis.call('HDEL', KEYS[5], worker)
    pcall(redis.call, 'HDEL', KEYS[8], worker) -- (a key of another type: left alone, as above)
  end
  writeOwners(KEYS[7], worker, others)
end
local epoch = redis.call('GET', KEYS[3])
if not epoch then
  epoch = tostring(now)
  redis.call('SET', KEYS[3], epoch)
end
local timeout = tonumber(redis.call('HGET', KEYS[6], 'timeout'))
return { now, epoch, timeout or false }
