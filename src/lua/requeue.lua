--[[
  requeue.lua: the monitor's sweep. Takes RUNNING tasks whose last heartbeat is older than the
  timeout (read from the lease index, so the cost is O(stale tasks), not O(all tasks)),
  re-checks each against its hash and puts it back in the queue at its place (lib/put-back.lua:
  its limits released, idle workers woken); a task whose worker has now died maxAttempts times,
  or that has used its own `attempts` (every try counts against those: a throw, a timeout, a
  death), is parked instead (lib/park.lua: ended failed, reason max_attempts, with its history).
  The dead attempt is added to the task's history (lib/history.lua, outcome `died`) and counted
  in its hash's `deaths` (retry-dead.lua starts it again from 0). maxAttempts counts those deaths
  only, not the tries that threw or timed out: it is there for a task that kills its workers.
  Check and requeue happen in this one script, so two monitors never requeue a task twice.

  After a silence of the whole swarm (every worker overdue, and no heartbeat or sweep for over
  taskTimeout / 2: an outage, not a mass death), requeues are held for one taskTimeout, once
  per silence, so that every worker can heartbeat first (lib/swarm-silence.lua; renew.lua makes
  the same check). If no worker comes back, requeues resume after that one grace.

  Workers overdue for two taskTimeouts are taken out of `workers` (their tasks have been
  requeued by then), so that peers stop counting them when they probe for a quorum; a worker
  that was only cut off lists itself again with its next heartbeat.

  KEYS[1] leases (zset)   KEYS[2] taskSet   KEYS[3] newQueue   KEYS[4] queued (set)
  KEYS[5..8] the dead-letter store: entries, index, junk, stats (see lib/park.lua)
  KEYS[9] workerSeen (zset: worker -> when it is overdue)   KEYS[10] grace
  KEYS[11] outage (hash: timeout, silence, seen)   KEYS[12] workerSet
  KEYS[13] workerFunctions (hash: worker -> functions)
  KEYS[14] workerStates (hash: worker -> its machine state; a pruned worker's is dropped)
  KEYS[15] monitorsSeen (zset: monitor -> its last sweep, Redis ms; for the dashboard)
  KEYS[16] ended (list): a stale task cancelled while it ran, ended here, for reap.lua
  KEYS[17] workerOwners (hash: worker -> its processes, lib/address-owners.lua; a pruned worker's are dropped)
  KEYS[18] workerMaxPayload (hash: worker -> its maxPayloadBytes; a pruned worker's is dropped)
  ARGV[1] task key prefix   ARGV[2] taskTimeout ms   ARGV[3] max tasks (and workers) this call
  ARGV[4] maxAttempts   ARGV[5] monitor name
  ARGV[6] held from (Redis ms; optional): the monitor lost Redis then and is back within one
  taskTimeout (machines/monitor.ts, holds): a task whose lease was live at that time is not taken,
  only those already stale then, and a worker is pruned only if it was overdue for two
  taskTimeouts then. Its worker may have been cut off with the monitor and not heartbeat again yet

  Returns { requeued ids, parked ids, next deadline ms or -1, now, grace ms left (0 = none),
            pruned workers, more, cancelled ids, refused }: more = 1 when the call stopped at its limit
            with stale tasks or silent workers left (the monitor calls again at once); cancelled:
            stale tasks a cancel had marked `cancelling` (cancel.lua), ended cancelled here;
            refused: "<id>: <Redis's error>" of each stale task Redis refused to put back, end
            or park (a key of its function's queue, or one its release or end writes, its group's
            turns, its dedupe key, damaged by hand: it stays RUNNING, tried again a taskTimeout on)
]]
--@include lib/quote.lua
--@include lib/now.lua
--@include lib/event.lua
--@include lib/fields.lua
--@include lib/park.lua
--@include lib/put-back.lua
--@include lib/history.lua
--@include lib/refusal.lua
--@include lib/swarm-silence.lua

-- the task's own budget of attempts (its entry's `attempts`), or nil when it set none
local function attemptsOf(data)
  local ok, task = pcall(cjson.decode, data or '')
  if ok and type(task) == 'table' then
    local a = tonumber(task.attempts)
    if a and a >= 1 then return math.floor(a) end
  end
end

local prefix, timeout, limit, maxAttempts = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = nowMs()
local heldFrom = tonumber(ARGV[6] or '')
local held = heldFrom ~= nil and heldFrom < now
-- the time judged at: now, or when the monitor lost Redis
local at = held and heldFrom or now
local cutoff = at - timeout
local D = { entries = KEYS[5], index = KEYS[6], junk = KEYS[7], stats = KEYS[8], queued = KEYS[4], taskSet = KEYS[2], leases = KEYS[1], prefix = prefix, Q = KEYS[3] }

-- A declared key of another type (written by hand) refuses the call here, before anything is
-- written: raised after the requeues, it left them done in Redis, their events out, and unsaid
-- (a refused call tells the monitor nothing of what it did: test/monitor-sweep-refused-after-
-- requeue.test.ts). (KEYS[10] is only SET and PTTL, KEYS[17] read under pcall: any type does.)
-- (each read by name, with a command the script runs anyway: the ACL rules of a role are read
-- from its scripts' redis.call names, src/acl.ts, and a name held in a variable is not seen)
for _, i in ipairs({ 1, 6, 7, 9, 15 }) do redis.call('ZSCORE', KEYS[i], '') end
for _, i in ipairs({ 2, 4, 12 }) do redis.call('SISMEMBER', KEYS[i], '') end
for _, i in ipairs({ 5, 8, 11, 13, 14 }) do redis.call('HGET', KEYS[i], '') end
redis.call('LLEN', KEYS[3])
redis.call('LLEN', KEYS[16])

redis.call('HSET', KEYS[11], 'timeout', timeout)
-- this monitor sweeps now; one silent for 2 taskTimeouts is gone (bounded: each call drops up to `limit`)
redis.call('ZADD', KEYS[15], now, ARGV[5])
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[15], '-inf', now - 2 * timeout, 'LIMIT', 0, limit)) do
  redis.call('ZREM', KEYS[15], m)
end
noteSeen({ workerSeen = KEYS[9], grace = KEYS[10], outage = KEYS[11] }, now, timeout)
local graceLeft = redis.call('PTTL', KEYS[10])
if graceLeft > 0 then
  return { {}, {}, now + graceLeft, now, graceLeft, {}, 0 }
end

local requeued, parked, cancelled, refused = {}, {}, {}, {}
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(stale) do
  local key = prefix .. id
  local h = fields(key, 'state', 'update', 'attempt', 'data', 'worker', 'history', 'function', 'group', 'priority', 'member', 'score', 'start', 'cancelling', 'key', 'deaths')
  if not h then
    -- its key holds something else now (written by hand): no task of ours to requeue
    redis.call('ZREM', KEYS[1], id)
    redis.call('SREM', KEYS[2], id)
  elseif h[1] ~= 'RUNNING' then
    -- a stale index entry (its task ended or was queued again meanwhile): dropped; and from
    -- `tasks` too unless it ended (an ended task stays there until its cleanup)
    redis.call('ZREM', KEYS[1], id)
    if h[1] ~= 'END' then redis.call('SREM', KEYS[2], id) end
  elseif int(h[2]) and int(h[2]) > cutoff then
    redis.call('ZADD', KEYS[1], int(h[2]), id)
  else
    local attempt = int(h[3]) or 0
    -- (a count edited into junk by hand counts from 0 again; none at all: a hash written before
    -- deaths were counted, or by a claim of a task that never died: its history's `died` say)
    local before = not h[15] and deathsIn(h[6]) or int(h[15])
    local deaths = math.max(0, before or 0) + 1
    local history = historyWith(h[6], attemptEntry(attempt, h[5], h[12], now, 'died', nil, 'heartbeat timeout'))
    -- every try counts against the task's own `attempts`; only deaths against maxAttempts
    local budget = attemptsOf(h[4])
    h[7] = functionOf(h[7], h[4])
    local back = not h[13] and h[4] and h[7] and deaths < maxAttempts and not (budget and attempt >= budget)
    -- Put back, its place first (lib/put-back.lua): a key of its function's queue damaged by hand
    -- refuses it before anything of the task is written. It stays RUNNING, looked at again a
    -- taskTimeout on (its index entry now), and is put back by the first sweep after the key is
    -- mended; the others of the call go on. Raised, the call left the task RUNNING out of the
    -- lease index for good, and what it had requeued before unsaid.
    local ok, err = true, nil
    if back then
      ok, err = pcall(putBack, KEYS[3], key, id, now, { fn = h[7], group = h[8], priority = h[9], member = h[10], score = h[11], start = h[12] })
    else
      -- Ended cancelled or parked (below), it is released, giving its group its turn back, and
      -- a cancelled one frees its dedupe key: those keys read first, as a put-back's are. Refused
      -- there after the writes, the sweep had taken it out of the lease index, RUNNING for good,
      -- its group's running count never released.
      err = (h[8] and h[8] ~= '' and unblockRefusal(KEYS[3], h[8])) or (h[13] and h[14] and refusedAt('HGET', dedupeKey(KEYS[3]), h[14])) or nil
      ok = err == nil
    end
    -- (refused after its place and its hash were written, at the wake marker or the release of
    -- its limits: it is QUEUED in its function's queue, put back; said requeued, its death
    -- counted, not left in the lease index as if it still ran)
    if not ok and redis.call('HGET', key, 'state') ~= 'RUNNING' then ok = true end
    if not ok then
      redis.call('ZADD', KEYS[1], now, id)
      refused[#refused + 1] = id .. ': ' .. refusal(err)
    else
      redis.call('HSET', key, 'deaths', deaths)
      redis.call('ZREM', KEYS[1], id)
      if h[13] then
        -- cancelled while it ran (cancel.lua), its worker dead before the stop reached it: it ends
        -- cancelled now, as a claim ends such a task put back (claim.lua), rather than wait in its
        -- queue for a worker of its function, or be parked as failed; its lease is dropped, so
        -- that a copy that was only frozen has its END refused
        release(KEYS[3], h[7], h[8])
        redis.call('HSET', key, 'state', 'END', 'update', now, 'end', now, 'outcome', 'cancelled', 'history', history)
        redis.call('HDEL', key, 'cancelling', 'lease')
        redis.call('RPUSH', KEYS[16], id)
        if h[14] and redis.call('HGET', dedupeKey(KEYS[3]), h[14]) == id then redis.call('HDEL', dedupeKey(KEYS[3]), h[14]) end
        publishEvent(key .. '-events', 'end', id, now, 'outcome', '"cancelled"')
        cancelled[#cancelled + 1] = id
      elseif not h[4] or not h[7] then
        -- no entry to queue again (its `data` or `function` was removed by hand): parked, not
        -- lost in between
        release(KEYS[3], h[7], h[8])
        park(D, now, 'unrunnable', 'task ' .. quoted(id) .. ' went stale and its hash holds no entry to queue again', h[4] or '', id, ARGV[5], true, { history = history })
        parked[#parked + 1] = id
      elseif deaths >= maxAttempts or (budget and attempt >= budget) then
        local message
        if deaths < maxAttempts then
          message = 'task ' .. quoted(id) .. ' used its ' .. budget .. ' attempts; its worker died in the last one'
        elseif deaths >= attempt then
          message = 'task ' .. quoted(id) .. ' was claimed ' .. attempt .. (attempt == 1 and ' time and its worker died' or ' times and its worker died each time') .. ' (maxAttempts ' .. maxAttempts .. ')'
        else
          message = 'task ' .. quoted(id) .. '\'s worker died in ' .. deaths .. ' of its ' .. attempt .. ' attempts (maxAttempts ' .. maxAttempts .. ')'
        end
        release(KEYS[3], h[7], h[8])
        park(D, now, 'max_attempts', message, h[4], id, ARGV[5], true, { history = history })
        parked[#parked + 1] = id
      else
        redis.call('HSET', key, 'history', history)
        redis.call('SREM', KEYS[2], id)
        publishRequeued(key .. '-events', id, attempt, h[5] or '', 'heartbeat timeout', now)
        requeued[#requeued + 1] = id
      end
    end
  end
end

-- A member of `workers` that never heartbeat (listed by hand, or by a worker that died before its
-- first heartbeat) has no overdue time: give it one, now, so that it is pruned like the others if
-- it stays silent (a sample per call keeps this bounded).
for _, w in ipairs(redis.call('SRANDMEMBER', KEYS[12], math.min(limit, 100))) do
  if not redis.call('ZSCORE', KEYS[9], w) then redis.call('ZADD', KEYS[9], now, w) end
end

local pruned = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', at - 2 * timeout, 'LIMIT', 0, limit)
for _, w in ipairs(pruned) do
  redis.call('ZREM', KEYS[9], w)
  redis.call('SREM', KEYS[12], w)
  redis.call('HDEL', KEYS[13], w)
  redis.call('HDEL', KEYS[14], w)
  pcall(redis.call, 'HDEL', KEYS[17], w) -- (a key of another type, written by hand: left alone)
  pcall(redis.call, 'HDEL', KEYS[18], w)
end

local nextDeadline = -1
-- (held, the leases stale now but live at heldFrom wait for the hold's end, which the monitor
-- knows: the next deadline is the first lease still live now)
local first = held and redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - timeout), '+inf', 'WITHSCORES', 'LIMIT', 0, 1) or redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then nextDeadline = tonumber(first[2]) + timeout end
local more = (#stale >= limit or #pruned >= limit) and 1 or 0
return { requeued, parked, nextDeadline, now, 0, pruned, more, cancelled, refused }
