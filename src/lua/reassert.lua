--[[
  reassert.lua: a worker re-creates the hash of a task it is still running after Redis lost it
  (restart without persistence), from its in-memory copy, so running work is not lost. Only
  when the hash is really absent (an existing hash, someone else's claim, is never touched),
  and only when Redis really lost its data: the epoch the worker saw before differs from the
  current one. A hash that vanished while the epoch stayed was cleaned up (the task ended
  elsewhere and expired, or was deleted): it is not brought back. Nor is a task submitted again
  after the loss (its id is marked queued): the queued copy wins, and the worker drops its own,
  so the id never runs from the queue and from a re-asserted claim at once.

  The hash is written as the claim wrote it: `start` is the claim's Redis time (the worker keeps
  the claim's reply), `manual_end` is read from the entry as claim.lua reads it.

  It counts again against its limits (lib/limits.lua), as the claim it restores did: the counts
  were lost with the data too.

  KEYS[1] task key   KEYS[2] taskSet   KEYS[3] leases (zset)   KEYS[4] epoch   KEYS[5] queued (set)
  KEYS[6] newQueue (Q)
  ARGV[1] id  ARGV[2] raw task JSON  ARGV[3] attempt  ARGV[4] lease  ARGV[5] worker
  ARGV[6] start (Redis ms of the claim)   ARGV[7] the epoch the worker saw before ('' = unknown)

  Returns 1 when re-asserted, 0 when a hash exists, the id is queued again, or Redis did not
  lose its data.
]]
--@include lib/now.lua
--@include lib/manual-end.lua
--@include lib/limits.lua

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('GET', KEYS[4]) == ARGV[7] then return 0 end
if redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then return 0 end
local now = nowMs()
local fn = ''
local ok, task = pcall(cjson.decode, ARGV[2])
if not ok or type(task) ~= 'table' then task = {} end
if type(task['function']) == 'string' then fn = task['function'] end
redis.call('HSET', KEYS[1], 'state', 'RUNNING', 'start', ARGV[6], 'update', now, 'worker', ARGV[5],
  'data', ARGV[2], 'attempt', ARGV[3], 'lease', ARGV[4], 'function', fn)
redis.call('HSET', KEYS[1], 'claims', tonumber(string.match(ARGV[4], '^(%d+)[.:]')) or 1)
if wantsManualEnd(task) then redis.call('HSET', KEYS[1], 'manual_end', '1') end
local group = type(task.group) == 'string' and task.group or ''
if group ~= '' then redis.call('HSET', KEYS[1], 'group', group) end
if type(task.priority) == 'number' and task.priority ~= 0 then redis.call('HSET', KEYS[1], 'priority', task.priority) end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], now, ARGV[1])
if fn ~= '' then acquire(KEYS[6], fn, group, now, ARGV[4], ARGV[1], true) end
return 1
