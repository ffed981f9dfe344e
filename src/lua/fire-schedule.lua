--[[
  fire-schedule.lua: a monitor fires one schedule that fell due. Many monitors may try the same
  firing at once: it happens only if the schedule's due time and definition are still those the
  monitor read (compare-and-set), so exactly one of them fires it, and the due time moves on in
  the same step. The task's id is made of the name and the tick, so a tick fired again (after a
  Redis restart lost the move) is refused while its task is queued, running or retained.

  With overlap 'skip', a tick whose previous task (lastId) is still queued, delayed or running
  is skipped and counted. ARGV[6] '' (no task): the definition is junk, the due time is dropped.

  KEYS[1] schedules (hash)   KEYS[2] schedules:due (zset)   KEYS[3] schedules:last (hash)
  KEYS[4] the new task's key   KEYS[5] queued (set)   KEYS[6] newQueue (Q)
  ARGV[1] name   ARGV[2] due time read   ARGV[3] definition read (JSON)
  ARGV[4] tick   ARGV[5] next tick (-1: none left)   ARGV[6] task id   ARGV[7] raw task JSON
  ARGV[8] '1' to place the task at once (a group or a priority)   ARGV[9] function
  ARGV[10] group   ARGV[11] priority   ARGV[12] '1' for manual_end   ARGV[13] overlap
  ARGV[14] task key prefix   ARGV[15] the monitor's name

  Returns {outcome, id}: outcome 'fired' (queued), 'duplicate' (the tick's task exists: not
  queued again), 'skipped' (id: the task still running), 'dropped' (junk), or 'moved' (someone
  else fired it or the schedule changed: nothing done).
]]
--@include lib/enqueue.lua

local name, id = ARGV[1], ARGV[6]
local due = redis.call('ZSCORE', KEYS[2], name)
-- '' read: no definition (a due time left without one)
if not due or tonumber(due) ~= tonumber(ARGV[2]) or (redis.call('HGET', KEYS[1], name) or '') ~= ARGV[3] then
  return { 'moved', '' }
end
local nextTick = tonumber(ARGV[5])
if nextTick < 0 or id == '' then redis.call('ZREM', KEYS[2], name)
else redis.call('ZADD', KEYS[2], nextTick, name) end
if id == '' then return { 'dropped', '' } end

local last = {}
local stored = redis.call('HGET', KEYS[3], name)
if stored then
  local ok, v = pcall(cjson.decode, stored)
  if ok and type(v) == 'table' then last = v end
end
local prefix = ARGV[14]
-- ticks travel as strings: cjson would write a number with 14 digits at most
if ARGV[13] == 'skip' and type(last.lastId) == 'string' and taskLive(prefix .. last.lastId, KEYS[5], last.lastId) then
  last.skipped = (tonumber(last.skipped) or 0) + 1
  last.lastSkipped = ARGV[4]
  redis.call('HSET', KEYS[3], name, cjson.encode(last))
  return { 'skipped', last.lastId }
end
local outcome = 'duplicate'
if redis.call('EXISTS', KEYS[4]) == 0 and redis.call('SISMEMBER', KEYS[5], id) == 0 then
  enqueueTask(KEYS[4], KEYS[5], KEYS[6], id, ARGV[7], ARGV[8] == '1', ARGV[9], ARGV[10], tonumber(ARGV[11]) or 0, ARGV[12] == '1')
  outcome = 'fired'
end
last.last, last.lastId, last.by = ARGV[4], id, ARGV[15]
redis.call('HSET', KEYS[3], name, cjson.encode(last))
return { outcome, id }
