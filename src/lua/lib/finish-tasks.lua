--[[
  lib/finish-tasks.lua: finish.lua's work (its header says what an END does), on keys and
  arguments given by name and place: finish.lua hands it its own KEYS and ARGV, finish-claim.lua
  its own, unsliced (a copy of a call's arguments costs about what a redis.call does).

  finishTasks(leases, ended, Q, taskSet, prefix, args, from, to): the tasks are args[from..to],
  four each (id, lease, outcome, result or error), their keys named from prefix; returns
  finish.lua's reply.
]]
--@include lib/now.lua
--@include lib/event.lua
--@include lib/fields.lua
--@include lib/limits.lua
--@include lib/history.lua
--@include lib/delayed-count.lua
--@include lib/delayed.lua

-- why an END of a task of group g (or none), dedupe key k (or none), a retry or not, would be
-- refused halfway (a key it writes of another type), or nil. (A retry leaves the dedupe key
-- held, the task not over: the dedupe hash damaged holds back its end, not its next attempt.)
local function endRefusal(Q, g, k, retry)
  return (g and g ~= '' and unblockRefusal(Q, g))
    or (k and not retry and refusedAt('HGET', dedupeKey(Q), k))
    or (retry and (refusedAt('ZCARD', delayedKey(Q)) or refusedAt('ZCARD', placedDelayedKey(Q)) or refusedAt('HGET', Q .. ':counts', 'd:')))
    or nil
end

local function finishTasks(leases, ended, Q, taskSet, prefix, args, from, to)
  local now = nowMs()
  local nowS = nowText()
  local out = {}
  for i = from, to, 4 do
    local id, lease, outcome, payload = args[i], args[i + 1], args[i + 2], args[i + 3]
    local key = prefix .. id
    local channel = key .. '-events'
    local h = fields(key, 'state', 'lease', 'function', 'group', 'key', 'retry_lease', 'cancelling', 'attempt') or {}
    -- cancelled or told to stop while it ran (cancel.lua): the stop may reach no one,
    -- the attempt failing first, so a retry is no retry then: the task ends stopped, with the
    -- attempt's error, answered 2, not 1: the worker that asked for the retry learns that its
    -- claim will not come (a stop it heard is kept for that claim: src/early-control.ts)
    local written = 1
    if h[7] and string.sub(outcome, 1, 6) == 'retry:' then
      outcome = 'stopped'
      written = 2
    end
    -- (this lease's retry written, whatever became of the task since: its next claim may be
    -- RUNNING already, taken in the very script that carried the retry, whose reply was lost)
    if h[6] == lease then
      out[#out + 1] = 1
    elseif h[1] == 'END' and h[2] == lease then
      out[#out + 1] = written
    elseif h[1] ~= 'RUNNING' or h[2] ~= lease then
      out[#out + 1] = 0
    else
      -- (a success, the common END, spared the sub)
      local retry = outcome ~= 'succeeded' and string.sub(outcome, 1, 6) == 'retry:'
      -- A grouped, keyed or retried task's END writes keys beyond the plain END's: each is read
      -- first, so one of another type (written by hand) refuses this END alone, before its first
      -- write, answered with Redis's error (the worker tries it again). Refused halfway, a call
      -- had written the task END and stopped: its group out of every turn, its dedupe key held,
      -- its end never told; and every END after it in the call was left unwritten.
      local why = ((h[4] and h[4] ~= '') or h[5] or retry) and endRefusal(Q, h[4], h[5], retry)
      -- The swarm-wide keys every END writes beside the hash come before it: `ended` (for a
      -- retry the task set), which a refusal ends the call at, before anything of this END is
      -- written; then the lease index, asked with pcall, the first taken back when it refuses.
      -- Written after the hash, a key damaged by hand (WRONGTYPE) ended the call halfway: the
      -- task END out of `ended` (never cleaned up) or a retry DELAYED in the task set, its end
      -- untold, every END after it unwritten. (Inline, and one pcall: this is every END's path.)
      if not why then
        -- (each command named where it is called: the ACL rules are read from these calls)
        local first
        if retry then first = redis.call('SREM', taskSet, id) else first = redis.call('RPUSH', ended, id) end
        local r = redis.pcall('ZREM', leases, id)
        if type(r) == 'table' then
          if not retry then redis.call('RPOP', ended) elseif first == 1 then redis.call('SADD', taskSet, id) end
          why = r.err
        end
      end
      if why then
        out[#out + 1] = why
      elseif retry then
        local runAt = now + (tonumber(string.sub(outcome, 7)) or 0)
        local a = fields(key, 'attempt', 'worker', 'start', 'history', 'member', 'priority', 'deaths')
        local entry = attemptEntry(a[1], a[2], a[3], now, 'failed', payload)
        local history = historyWith(a[4], entry)
        -- retry_lease: this attempt's retry is written (a resend of it answers 1, as an END's does)
        redis.call('HSET', key, 'state', 'DELAYED', 'update', now, 'runAt', runAt, 'reason', 'retry', 'error', payload, 'history', history, 'retry_lease', lease)
        -- A hash without `deaths` (written before they were counted) has its deaths read from its
        -- history's `died` records (requeue.lua): the bound dropping records, they are counted
        -- first. Else a task whose worker had died 4 times was requeued at its 5th death under
        -- maxAttempts 5 (test/max-attempts-deaths-upgrade.test.ts). (0 written too: the count is
        -- made once, not at each retry at the bound)
        if not a[7] and a[4] and #history < #a[4] + #entry then
          redis.call('HSET', key, 'deaths', deathsIn(a[4]))
        end
        redis.call('HDEL', key, 'lease')
        -- the earliest due now: idle workers wake, so that their next wait ends when it falls due
        local first = firstDue(Q)
        -- (at its place, kept: retries due at one ms are promoted in their places' order; one
        -- with none, a hash re-asserted after Redis lost it, is placed now, at its due time)
        local member = a[5]
        if not member then
          local score
          member, score = placeOf(Q, id, runAt, tonumber(a[6]) or 0)
          redis.call('HSET', key, 'member', member, 'score', score)
        end
        redis.call('ZADD', placedDelayedKey(Q), runAt, member)
        redis.call('ZADD', delayedKey(Q), runAt, id)
        if first < 0 or runAt < first then wake(Q) end
        countDelayed(Q, h[3], 1)
        release(Q, h[3], h[4])
        publishEvent(channel, 'retrying', id, now, 'attempt', intText(a[1]), 'error', payload, 'runAt', string.format('%d', runAt))
        out[#out + 1] = 1
      else
        local field = outcome == 'succeeded' and 'result' or 'error'
        redis.call('HSET', key, 'state', 'END', 'update', nowS, 'end', nowS, 'outcome', outcome, field, payload)
        -- (a success after a retry: the error kept from the failed attempt is in its history, not
        -- the task's; only a retry writes one, so a first attempt is spared the HDEL)
        if outcome == 'succeeded' and h[8] ~= '1' then redis.call('HDEL', key, 'error') end
        release(Q, h[3], h[4])
        if h[5] and redis.call('HGET', dedupeKey(Q), h[5]) == id then redis.call('HDEL', dedupeKey(Q), h[5]) end
        -- (the attempt and worker that ended it, the worker named by its lease
        -- `<claims>.<token>:<worker>`:
        -- a waiter whose last read saw an earlier attempt, the hash cleaned up at once, answers
        -- from this event)
        -- (the lease matched the hash's, which only claim.lua writes: its worker after the first ':')
        local worker = string.sub(lease, (string.find(lease, ':', 1, true) or #lease) + 1)
        -- (a success's outcome as JSON a constant: a concatenation per task spared)
        publishEvent(channel, 'end', id, now, 'outcome', outcome == 'succeeded' and '"succeeded"' or '"' .. outcome .. '"', field, payload, 'attempt', intText(h[8]), 'worker', jsonString(worker))
        out[#out + 1] = written
      end
    end
  end
  return out
end
