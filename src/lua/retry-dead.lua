--[[
  retry-dead.lua: put one dead letter's task back on the queue, by the entry's key (after the
  cause is fixed, e.g. the missing function deployed). Taking the entry and queueing its task are
  one step, so two callers cannot both retry it. A parked task's hash (lib/park.lua) is reset to
  QUEUED with its attempts at 0 and no deaths counted (its history kept): the claim would see a
  duplicate otherwise, and the monitors would park it again at its first death.

  KEYS[1..4] the dead-letter store: entries, index, junk, stats   KEYS[5] newQueue
  KEYS[6] the administrative calls' tokens (lib/admin-calls.lua)
  ARGV[1] the entry's key   ARGV[2] task key prefix   ARGV[3] the call's token ('' none): recorded
  with the retry, so that the same call run again (a connection that closed before the reply
  came resends it) answers 1, what its first run did, not 0

  Returns 1 when requeued, 0 when there is no entry with that key (retried or purged already).
  An entry parked for what its own bytes are (not JSON, no id, an id that is none, no function,
  an option that is none: `refusedAsIs` in lib/park-codes.lua), or that holds no entry at all
  (a task whose entry was removed by hand), or a duplicate whose id's task is still there, is
  refused with an error and left as it is: queued again, it would be parked again at once, under
  a new key.
]]
--@include lib/now.lua
--@include lib/fields.lua
--@include lib/names.lua
--@include lib/admin-calls.lua
--@include lib/park-codes.lua
--@include lib/quote.lua

if adminCallDone(KEYS[6], ARGV[3]) then return 1 end
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
local ok, letter = pcall(cjson.decode, entry)
-- an entry edited into junk by hand carries no task to queue: left for purge
if not ok or type(letter) ~= 'table' or type(letter.raw) ~= 'string' then return redis.error_reply('dead letter ' .. ARGV[1] .. ' is not an entry this swarm wrote (no "raw" task); purge it') end
if letter.truncated then return redis.error_reply('dead letter ' .. ARGV[1] .. ' holds only the first 4 KB of a ' .. tostring(letter.truncated) .. '-byte entry: it cannot be queued again; send the task again (maxPayloadBytes bounds it) and purge this one') end
-- (a task parked for its removed entry, claim.lua or requeue.lua: queued again, '' would be
-- judged junk with no id and parked apart from the task, left QUEUED in no queue)
if letter.raw == '' then return redis.error_reply('dead letter ' .. ARGV[1] .. ' holds no entry (its task had none left to run): nothing to queue again; purge it, and send the task again') end
local code = PARK_CODES[letter.reason]
if code and code.refusedAsIs then return redis.error_reply('dead letter ' .. ARGV[1] .. ' was parked for ' .. letter.reason .. ', which its entry is as it stands: queued again, it would be parked again; purge it, and send the task again, fixed') end
-- a duplicate's id is another task's: queued again while that task is there, it is parked again
-- at once, under a new key (the retry said it was queued)
if letter.reason == 'duplicate' and type(letter.id) == 'string' and redis.call('EXISTS', ARGV[2] .. letter.id) == 1 then
  return redis.error_reply('dead letter ' .. ARGV[1] .. ' was parked for duplicate: its id is task ' .. quoted(letter.id) .. "'s, which is still there; queued again, it would be parked again; purge it, or retry it once that task is gone")
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
if letter.task and type(letter.id) == 'string' then
  local key = ARGV[2] .. letter.id
  local h = fields(key, 'dead')
  if h and h[1] == ARGV[1] then
    -- (deaths written 0, not deleted: a hash without them is one written before they were
    -- counted, whose deaths requeue.lua reads from its history, which a retry keeps)
    redis.call('HSET', key, 'state', 'QUEUED', 'attempt', 0, 'deaths', 0, 'update', nowMs())
    -- routed again from the queue: its place (member, score) is given anew
    -- (a cancel of the attempt that was parked is spent: this run is asked for after it, and
    -- would be stopped at its first heartbeat, or ended cancelled at its claim)
    redis.call('HDEL', key, 'outcome', 'error', 'result', 'end', 'lease', 'worker', 'parked', 'dead', 'member', 'score', 'cancelling')
    redis.call('PERSIST', key)
    -- queued again: it holds its dedupe key again, unless another task took it meanwhile
    local k = redis.call('HGET', key, 'key')
    if k then redis.call('HSETNX', dedupeKey(KEYS[5]), k, letter.id) end
  end
end
redis.call('HINCRBY', KEYS[4], 'retried:' .. tostring(letter.reason), 1)
redis.call('LPUSH', KEYS[5], letter.raw)
adminCallDid(KEYS[6], ARGV[3])
return 1
