--[[
  finish.lua: end one or more tasks, each fenced by its lease. Marks the hash END with how it
  ended, stores the result or error, drops it from the lease index, queues it for the
  monitor's cleanup and publishes the final `end` event ({id, outcome, result or error, attempt,
  worker}), all at once so a subscriber can never miss the end. A worker ends every task that
  settled in the same tick with one call.

  An attempt that failed with attempts left is not an end: outcome `retry:<ms>` makes the task
  DELAYED (reason retry) until <ms> from now on Redis's clock, in Q:delayed (lib/delayed.lua),
  its error kept, the attempt added to its history (lib/history.lua), and publishes `retrying`
  {id, attempt, error, runAt}. A claim promotes it when due, at the place it had. When it is the
  earliest due, idle workers are woken (a marker), so that their next wait ends when it is due.

  A task cancelled while it ran (`cancelling`, cancel.lua) is not retried: it ends `stopped`.

  The task's limits are released (lib/limits.lua), and its dedupe key, if any, freed.

  KEYS[1] leases (zset)   KEYS[2] ended (list)   KEYS[3] newQueue (Q, lib/names.lua)
  KEYS[4] taskSet
  ARGV[1] task key prefix (a task's hash is the prefix and its id, its events channel that and
  `-events`), then four per task: task id, lease, outcome (succeeded|failed|stopped|retry:<ms>),
  result or error as JSON

  Returns, per task: 1 when written (or already written by this lease: a retry after a timeout
  whose first try did reach Redis), 0 when fenced (the lease is not ours, or not RUNNING).
]]
--@include lib/now.lua
--@include lib/event.lua
--@include lib/fields.lua
--@include lib/limits.lua
--@include lib/history.lua
--@include lib/delayed-count.lua

local now = nowMs()
local nowS = nowText()
local out = {}
local prefix = ARGV[1]
for i = 2, #ARGV, 4 do
  local id, lease, outcome, payload = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local key = prefix .. id
  local channel = key .. '-events'
  local h = fields(key, 'state', 'lease', 'function', 'group', 'key', 'retry_lease', 'cancelling', 'attempt') or {}
  -- cancelled while it ran (cancel.lua): the stop may reach no one, the attempt failing first,
  -- so a retry is no retry then: the task ends stopped, with the attempt's error
  if h[7] and string.sub(outcome, 1, 6) == 'retry:' then outcome = 'stopped' end
  -- (this lease's retry written, whatever became of the task since: its next claim may be
  -- RUNNING already, taken in the very script that carried the retry, whose reply was lost)
  if (h[1] == 'END' and h[2] == lease) or h[6] == lease then
    out[#out + 1] = 1
  elseif h[1] ~= 'RUNNING' or h[2] ~= lease then
    out[#out + 1] = 0
  elseif string.sub(outcome, 1, 6) == 'retry:' then
    local runAt = now + (tonumber(string.sub(outcome, 7)) or 0)
    local a = fields(key, 'attempt', 'worker', 'start', 'history')
    local entry = attemptEntry(a[1], a[2], a[3], now, 'failed', payload)
    -- retry_lease: this attempt's retry is written (a resend of it answers 1, as an END's does)
    redis.call('HSET', key, 'state', 'DELAYED', 'update', now, 'runAt', runAt, 'reason', 'retry', 'error', payload, 'history', historyWith(a[4], entry), 'retry_lease', lease)
    redis.call('HDEL', key, 'lease')
    redis.call('ZREM', KEYS[1], id)
    redis.call('SREM', KEYS[4], id)
    -- the earliest due now: idle workers wake, so that their next wait ends when it falls due
    local first = redis.call('ZRANGE', delayedKey(KEYS[3]), 0, 0, 'WITHSCORES')
    redis.call('ZADD', delayedKey(KEYS[3]), runAt, id)
    if not first[2] or runAt < tonumber(first[2]) then wake(KEYS[3]) end
    countDelayed(KEYS[3], h[3], 1)
    release(KEYS[3], h[3], h[4])
    publishEvent(channel, 'retrying', id, now, 'attempt', intText(a[1]), 'error', payload, 'runAt', string.format('%d', runAt))
    out[#out + 1] = 1
  else
    local field = outcome == 'succeeded' and 'result' or 'error'
    redis.call('HSET', key, 'state', 'END', 'update', nowS, 'end', nowS, 'outcome', outcome, field, payload)
    redis.call('ZREM', KEYS[1], id)
    redis.call('RPUSH', KEYS[2], id)
    release(KEYS[3], h[3], h[4])
    if h[5] and redis.call('HGET', dedupeKey(KEYS[3]), h[5]) == id then redis.call('HDEL', dedupeKey(KEYS[3]), h[5]) end
    -- (the attempt and worker that ended it, the worker named by its lease `<claims>:<worker>`:
    -- a waiter whose last read saw an earlier attempt, the hash cleaned up at once, answers
    -- from this event)
    -- (the lease matched the hash's, which only claim.lua writes, `<claims>:<worker>`)
    local worker = string.sub(lease, (string.find(lease, ':', 1, true) or #lease) + 1)
    publishEvent(channel, 'end', id, now, 'outcome', '"' .. outcome .. '"', field, payload, 'attempt', intText(h[8]), 'worker', jsonString(worker))
    out[#out + 1] = 1
  end
end
return out
