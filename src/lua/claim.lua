--[[
  claim.lua: route new entries and claim tasks for one worker, in one atomic step, so that a task
  is always in exactly one place: the ingress list, its function's structure, claimed (RUNNING),
  ended or parked (never lost). See docs/queue-layout.md.

  1. Routing. Up to max(64, 2 x max) entries are taken from the right of the queue (the seed's
     ingress, FIFO), each judged (lib/judge.lua: as JSON.parse judges it, with a valid id, a
     function, and valid options). A bad entry is parked (lib/park.lua) with its reason; an
     entry whose id another task holds is parked as a duplicate. A good one goes to its
     function's structure (lib/queue.lua), its hash written QUEUED with its data and options,
     whichever worker routes it and whether or not any worker serves its function: it waits
     there until one does. The seed's fast path: when this worker serves the function, has room
     for it, and the function has nothing queued, no limit and no pause, the entry is claimed at
     once, without the round trip through the structure (FIFO holds: nothing of it waits), unless
     a later entry of the same batch, routed at the same time, would come before it (a higher
     priority) or take the next turn (another group), or a function ahead of it in this claim's
     turn (2.) could take a task.
     A worker of one function, when no entry in that window holds the words `group` or
     `priority` (nothing in it can come before another or take a turn), routes entry by entry and
     stops where its room ends: the rest stays on the queue, in order, for the next claim, rather
     than go through the function's structure (the seed's path: twice the work per task). So does
     a worker of several functions when, besides, the swarm is calm (no pause, limit or delay) and
     none of its functions has anything queued: it takes the ingress in its order, each entry at
     once when its function has room here, else routed to its function's queue.
     The seed's steady case (calm, nothing of the worker's functions queued, the window known
     plain or the queue one entry long, good entries of functions with room here) is taken
     first, on its own, before anything else this script needs is made; the first entry it
     cannot take goes back on the right, and the routing goes on from it as above.
     The string `wake` on the queue is a wake marker (an idle worker's wait returns on it): it is
     dropped.
  2. Claiming. For each function of the worker, starting at a rotating index so that none starves
     another, while the worker has room for it: skipped when paused (`*` or the function in
     Q:paused) or at its limit (lib/limits.lua); else the next task in turn (groups take turns,
     priority-aged FIFO within a group; a group at its limit is set aside) is claimed: RUNNING
     for this worker under a new lease, in `tasks` and the lease index, counted against its
     limits.

  KEYS[1] newQueue (Q: the per-function and per-group keys are named from it, lib/names.lua)
  KEYS[2] taskSet   KEYS[3] leases (zset)   KEYS[4] queued (set)
  KEYS[5..8] the dead-letter store: entries, index, junk, stats (see lib/park.lua)
  KEYS[9] this worker's claim receipts (hash: token -> what that claim took; and `ttl`, the
          Redis time its expiry was last set or a receipt last written, which keeps the hash from
          emptying as its receipts are dropped, and tells a receipt written into a hash made
          again, lost since its expiry was set: that claim sets the expiry too)
  KEYS[10] ended (list): a cancelled task's id, once its entry is dropped or it is ended (a
          task cancelled while it ran and put back since: `cancelling`), for reap.lua
  KEYS[11] (optional) workers (set): given, the reply counts its members (a worker whose lanes
          depend on whether it is the swarm's only one asks: src/worker.ts `loneLaneOf`)
  ARGV[1] task key prefix   ARGV[2] worker "host:port"   ARGV[3] max tasks to claim
  ARGV[4] max payload bytes   ARGV[5] where to start in the worker's function list (rotation)
  ARGV[6] token: names this claim ('' = none). A claim's reply can be lost after Redis ran it
          (a timeout, a broken connection, a resend after a reconnect); what it took is kept as
          a receipt under its token, so that the same token never claims twice: run again, it
          answers with the receipt (the tasks still held by that claim's leases). A token the
          worker gave up on is cancelled (claim-recover.lua leaves an empty receipt): a claim
          arriving with it later takes nothing.
  ARGV[7] the worker's database number (what claims know of the queue's right end is kept per
          database: lib/plain-window.lua)
  ARGV[8] '1' to set the receipts' expiry again (the worker asks at its first claim, after a
          failed one, and once a minute: a claim would otherwise pay a PEXPIRE each time)
  ARGV[9] n, then ARGV[10..9+n]: tokens whose replies the worker has received (receipts dropped;
          the worker sends them a few at a time)
  ARGV[10+n..] pairs: a function this worker runs, and how many more of it it may take now

  Returns one flat array (a nested reply costs Redis a conversion per table): six numbers,
  { wakeAt, now, receipt, workers, c, p }, then c claimed tasks, four items each
  { id, raw, attempt (as text), lease }, then p parked entries, two each { reason, message }:
    wakeAt  = the earliest Redis time (ms) something this claim saw held back by a rate limit
              may be claimable, or -1
    now     = Redis time of the claim (ms): the claimed tasks' `start`
    receipt = 1 when a receipt was kept under the token (ack it with a later claim), else 0
    workers = SCARD of KEYS[11], or -1 without it (or when Redis refused the count: an ACL
              user whose rules predate it)
]]
--@include lib/quote.lua
--@include lib/now.lua
--@include lib/fields.lua
--@include lib/judge.lua
--@include lib/park.lua
--@include lib/queue.lua
--@include lib/delayed.lua
--@include lib/summed-call.lua
--@include lib/plain-window.lua
--@include lib/holder.lua
--@include lib/routed-fields.lua
--@include lib/claim-reply.lua
--@include lib/stale-receipts.lua
--@include lib/refusal.lua

-- (at: where this script's ARGV start in the ARGV given, when finish-claim.lua calls it with its
-- own, not copied; src/scripts.ts)
at = at or 0
local Q = KEYS[1]
local prefix, worker = ARGV[at + 1], ARGV[at + 2]
local max, maxBytes = SMALL_INT_OF[ARGV[at + 3]] or tonumber(ARGV[at + 3]), tonumber(ARGV[at + 4])
local rotation = SMALL_INT_OF[ARGV[at + 5]] or tonumber(ARGV[at + 5]) or 0
local token = ARGV[at + 6]
-- (between a lease's count and its worker: `<claims>.<token>:<worker>`; no ':' in a token)
local leaseMark = (token ~= '' and not string.find(token, ':', 1, true)) and ('.' .. token .. ':') or ':'
local db = ARGV[at + 7]
local refreshReceipts = ARGV[at + 8] == '1'
local acks = SMALL_INT_OF[ARGV[at + 9]] or tonumber(ARGV[at + 9])
-- What the receipts hash held before this claim writes it: this token's receipt (it ran
-- before: below), and `ttl`, which the worker's claims keep there. Missing, the hash is new or
-- was lost, perhaps with the whole dataset (FLUSHDB, FLUSHALL, SWAPDB): what claims remember
-- of new-task's right end, kept outside the dataset (lib/plain-window.lua), is not trusted then.
local receiptBefore, marked = false, false
if token ~= '' then
  local r = redis.call('HMGET', KEYS[9], token, 'ttl')
  receiptBefore, marked = r[1], r[2]
end
-- (fewer dropped than named: the hash was lost or edited, and with it perhaps its expiry)
if acks > 0 and summedCall('HDEL', KEYS[9], ARGV, at + 10, at + 9 + acks) < acks then refreshReceipts = true end
if refreshReceipts and token ~= '' then
  dropOthersReceipts(KEYS[9], token)
  redis.call('HSET', KEYS[9], 'ttl', nowText())
  redis.call('PEXPIRE', KEYS[9], '600000')
end
local order, room = {}, {}
-- the room left over all the worker's functions (kept as claims take it: the entry-by-entry
-- routing below asks after every entry, and a worker may run many functions)
local roomLeft = 0
for i = at + 10 + acks, #ARGV, 2 do
  local fn, r = ARGV[i], SMALL_INT_OF[ARGV[i + 1]] or tonumber(ARGV[i + 1]) or 0
  order[#order + 1] = fn
  room[fn] = r
  roomLeft = roomLeft + math.max(0, r)
end
local now = nowMs()
-- (a count refused, as under ACL rules made before claims counted, is none: the claim runs on,
-- and the worker claims one claim at a time; pcall, as a refusal raised would fail every claim)
local workers = -1
if KEYS[11] then
  local n = redis.pcall('SCARD', KEYS[11])
  if type(n) == 'number' then workers = n end
end
-- (numbers given to redis.call as text, and now's written once: Redis prints a number argument with printf)
local nowS = nowText()

-- claimed: the reply, its header's places kept (lib/claim-reply.lua), then the claimed tasks
-- (parked, the entries parked, is made once past the steady case: no answer before it parks any)
local claimed = { 0, 0, 0, 0, 0, 0 }

-- This token ran before (its reply was lost) or was given up: answer from its receipt.
if token ~= '' then
  local receipt = receiptBefore
  if receipt == '' then return claimReply(claimed, nil, -1, now, 0, workers) end
  if receipt then
    local r = cjson.decode(receipt)
    for i = 2, #r, 3 do
      local h = fields(prefix .. r[i], 'state', 'lease', 'data')
      if h and h[1] == 'RUNNING' and h[2] == r[i + 1] then
        claimed[#claimed + 1] = r[i]
        -- (its data removed by hand: '' keeps the reply's fours aligned; the worker parks it)
        claimed[#claimed + 1] = h[3] or ''
        claimed[#claimed + 1] = r[i + 2]
        claimed[#claimed + 1] = r[i + 1]
      end
    end
    return claimReply(claimed, nil, -1, r[1], 1, workers)
  end
end

local taken = 0

-- The seed's swarm: nothing delayed, paused or limited (calm), and none of the worker's
-- functions with anything queued or blocked (fnsEmpty). One EXISTS tells both when both hold,
-- and spares the promotion, the checks per function and per group, and, for each entry taken
-- at once, the question whether its function has anything queued (`direct`, below); when it
-- finds something, a second one tells which. fnsEmpty is known only when calm: a promotion
-- (not calm) adds to the functions' structures after this.
local calmKeys, ks = claimCheckKeys(Q, order)
local fnsEmpty = existing(ks) == 0
local calm = fnsEmpty or existing(calmKeys) == 0

-- Nothing to take (an idle worker's claim, or the claim after the last END of a burst): calm,
-- none of the worker's functions with anything queued or blocked, and the ingress empty. The
-- claim would route nothing and find nothing; it answers at once, without building what a
-- claim needs (what it knew of the ingress's right end, nothing is left of: forgotten).
local queueLen = calm and redis.call('LLEN', Q) or nil
if fnsEmpty and queueLen == 0 then
  notePlain(db, Q, 0, nil)
  return claimReply(claimed, nil, -1, now, 0, workers)
end

local holds = not calm and redis.call('EXISTS', Q .. ':paused', Q .. ':limits') > 0
if not holds then noLimits = true end

-- Claim task `id` of (fn, g) for this worker. h: its attempt and claims so far. raw: its entry,
-- when it comes straight from the queue, judged `e`, its hash written with the fields routing
-- writes for its place (member, score: lib/routed-fields.lua). unqueued: its id has left
-- `queued` already (lib/client-entry.lua's take).
local function claimTask(id, fn, g, attemptsSoFar, claimsSoFar, raw, e, member, score, unqueued)
  local key = prefix .. id
  -- (a count edited into junk by hand counts from 0 again rather than stop the claim)
  local attempt = (attemptsSoFar and int(attemptsSoFar) or 0) + 1
  -- `claims` only grows (a hand-back gives back the attempt, not the claim), and the claim's
  -- token names it among every claim of this id for good: a hash cleaned up (or lost) and the
  -- id submitted again counts claims from 0, and `<claims>:<worker>` alone repeated the lease
  -- an old copy of the id's earlier run still held (its events and END passed the fence).
  local claims = (claimsSoFar and int(claimsSoFar) or 0) + 1
  local claimsS = SMALL_INT_TEXT[claims]
  -- (a count past the table written as before: as Lua prints a number)
  local lease = (claimsS or claims) .. leaseMark .. worker
  claimsS = claimsS or string.format('%d', claims)
  local attemptS = SMALL_INT_TEXT[attempt] or string.format('%d', attempt)
  -- (the lease index and `tasks` first, its hash last: a write Redis refuses there, a key
  -- damaged by hand, leaves no task RUNNING for no worker out of the lease index, parked too
  -- by routeSafely; an index entry with no RUNNING task is dropped by the monitor's sweep)
  redis.call('ZADD', KEYS[3], nowS, id)
  redis.call('SADD', KEYS[2], id)
  if not unqueued then redis.call('SREM', KEYS[4], id) end
  if raw and plainRouted(e) then
    -- (the seed's entry: its routed fields given as they are, no table made of them; a score of
    -- now written as now's text, msText's two calls spared)
    redis.call('HSET', key, 'state', 'RUNNING', 'start', nowS, 'update', nowS, 'worker', worker, 'lease', lease, 'attempt', attemptS, 'claims', claimsS, 'data', raw, 'function', e.fn, 'member', member, 'score', score == now and nowS or msText(score))
  elseif raw then
    redis.call('HSET', key, 'state', 'RUNNING', 'start', nowS, 'update', nowS, 'worker', worker, 'lease', lease, 'attempt', attemptS, 'claims', claimsS, 'data', raw, unpack(routedFields(e, member, score)))
  else
    redis.call('HSET', key, 'state', 'RUNNING', 'start', nowS, 'update', nowS, 'worker', worker, 'lease', lease, 'attempt', attemptS, 'claims', claimsS)
    raw = redis.call('HGET', key, 'data')
  end
  acquire(Q, fn, g, now, lease, id)
  claimed[#claimed + 1] = id
  claimed[#claimed + 1] = raw
  claimed[#claimed + 1] = attemptS
  claimed[#claimed + 1] = lease
  taken = taken + 1
  room[fn] = room[fn] - 1
  if room[fn] >= 0 then roomLeft = roomLeft - 1 end
end

-- How many entries at the ingress's right end are known plain (the window, below: `stepwise`;
-- lib/plain-window.lua), trusted once the entry at the right end is found to be `knownHead`:
-- by the steady case's first pop, else read before the routing (`checked`)
local window = math.max(64, 2 * max)
-- (read above when calm: nothing changes the queue in between then)
local len = queueLen or redis.call('LLEN', Q)
local knownN, knownHead = 0, nil
if marked then knownN, knownHead = knownPlain(db, Q) end
local verified, checked = 0, false
if knownHead and len > 0 then verified = math.min(knownN, len) end

-- The seed's steady case, first and alone: calm, none of the worker's functions with anything
-- queued or blocked (fnsEmpty), and the window known plain, or the queue one entry long (an idle
-- worker woken by a submit: that entry is the whole window, nothing in it can come before
-- another, so nothing need be known of it). Each entry is then what the
-- entry-by-entry routing below would take at once, or route, in turn; this takes the ones it
-- would take at once (a good entry of a function with room here, its id held by no task) and
-- answers, without making the closures and tables the rest of this script needs (what that
-- saves: bench/analysis.md). At the first entry it cannot take, it puts that entry back where it
-- was, on the right, and the routing below goes on from it. (A claim with no room at all takes
-- nothing here: the one entry, unknown, may ask for a group or a priority, which the routing
-- below routes to its function's queue whatever the room, so that its turn and its priority
-- count from this claim.)
local leanPopped = 0
if fnsEmpty and len > 0 and roomLeft > 0 and (verified >= math.min(window, len) or len == 1) then
  -- (made here, not for every claim: one closure, for the pcall below)
  local function takeLean(e, raw, h, block)
    local member, score = placeOf(Q, e.id, now, e.priority, block)
    claimTask(e.id, e.fn, e.group, h and h[2], h and h[3], raw, e, member, score, e.unqueued)
  end
  local want = math.min(window, len)
  local whole = true
  while taken < max and roomLeft > 0 and leanPopped < want do
    local raw = redis.call('RPOP', Q)
    if not raw then break end
    if not checked and verified > 0 then
      -- (the right end is not what was known: it is read again below)
      checked = true
      if raw ~= knownHead then
        redis.call('RPUSH', Q, raw)
        verified = 0
        whole = false
        break
      end
    end
    leanPopped = leanPopped + 1
    if raw ~= 'wake' then
      -- (its id taken out of `queued` as it is judged, when Client's: put back if not claimed)
      local e = judgeEntry(raw, maxBytes, KEYS[4], true)
      local h, held
      if not e.bad and (room[e.fn] or 0) > 0 then h, held = holder(prefix, e.id) end
      -- (taken under pcall: a swarm key it writes damaged by hand, WRONGTYPE, the lease index,
      -- `tasks` or `counts`, refused the whole claim after the pop, and the entry was lost, its id
      -- out of `queued`: it goes back where it was, as one not taken here, and the routing below
      -- parks it unrunnable with Redis's words; test/refused-claim-lean-path.test.ts. claimTask's
      -- first write is the lease index: an entry left there with no RUNNING task is dropped by
      -- the monitor's sweep)
      -- (the routing numbers a first place reserves, max(1, min(roomLeft, want - leanPopped + 1)),
      -- with Lua's own operators: math.max and math.min were two C calls per entry)
      local block = want - leanPopped + 1
      if roomLeft < block then block = roomLeft end
      if block < 1 then block = 1 end
      if e.bad or (room[e.fn] or 0) <= 0 or held ~= nil or not pcall(takeLean, e, raw, h, block) then
        if e.unqueued then redis.call('SADD', KEYS[4], e.id) end
        redis.call('RPUSH', Q, raw)
        leanPopped = leanPopped - 1
        whole = false
        break
      end
    end
  end
  if whole then
    noteWindow(db, Q, verified, leanPopped)
    -- (nothing queued in the worker's functions, and nothing routed into them: no step 2)
    return claimReply(claimed, nil, -1, now, keepReceipt(KEYS[9], token, claimed, nowS), workers)
  end
  -- (len and verified stay as read: the routing below is entry by entry, as the window was known
  -- plain, and counts what was popped here against that window, as it would have)
end

local parked = {}

-- the dead-letter store (lib/park.lua), made when this claim first parks an entry
local D
local function deadStore()
  D = D or { entries = KEYS[5], index = KEYS[6], junk = KEYS[7], stats = KEYS[8], queued = KEYS[4], taskSet = KEYS[2], leases = KEYS[3], prefix = prefix, Q = Q }
  return D
end

-- due tasks promoted per claim: 100,000 due at once never hold Redis for long in one call
local PROMOTE_BATCH = 100

local wakeAt = -1
local function noteWake(t)
  if t and t >= 0 and (wakeAt < 0 or t < wakeAt) then wakeAt = t end
end

-- 0. Delayed and retrying tasks that are due join their function's queue (a bounded batch: the
-- next claim goes on with the rest at once, as the wake time says), whichever functions this
-- worker runs; what they make claimable for other workers wakes them (below).
local promoted, due = 0, -1
-- (a due task Redis refuses to move into its function's queue, a key of it damaged by hand, is
-- parked unrunnable with Redis's words, nothing of it written before: retried from the dead
-- letters once mended; the claim goes on. Raised, it failed every worker's claim, and the task
-- was left QUEUED in no queue)
local function unpromoted(id, h, err)
  local why = refusal(err)
  local message = 'task ' .. quoted(id) .. ' could not be queued when due: Redis refused a write to its function\'s queue (' .. why .. ')'
  countDelayed(Q, h[2], -1)
  park(deadStore(), now, 'unrunnable', message, redis.call('HGET', prefix .. id, 'data') or '', id, worker, true, { fn = h[2] })
  parked[#parked + 1] = 'unrunnable'
  parked[#parked + 1] = message
end
if not calm then promoted, due = promote(Q, prefix, now, PROMOTE_BATCH, unpromoted) end
noteWake(due)

-- More were due than a claim promotes: a function with tasks still DELAYED takes, in this claim,
-- only what is placed before the first due task not promoted yet (its score and member: the
-- same place it gets when promoted, lib/delayed.lua), so that what was queued after they fell
-- due, or at that ms after they were submitted, does not start before them. The next claim goes
-- on with the next batch at once (the wake time is now). A function with nothing delayed is not
-- held.
local backlog = due >= 0 and due <= now and firstUnpromoted(Q, prefix, now) or nil
local heldBefore = {}
local function heldFrom(fn)
  if not backlog then return nil end
  if heldBefore[fn] == nil then
    heldBefore[fn] = (tonumber(redis.call('HGET', Q .. ':counts', 'd:' .. fn)) or 0) > 0 and backlog
  end
  return heldBefore[fn] or nil
end

local pausedAll = holds and redis.call('SISMEMBER', Q .. ':paused', '*') == 1
local pausedFn = {}
local function isPaused(fn)
  if not holds then return false end
  if pausedAll then return true end
  if pausedFn[fn] == nil then pausedFn[fn] = redis.call('SISMEMBER', Q .. ':paused', fn) == 1 end
  return pausedFn[fn]
end

-- Park an entry. It is recorded on its task (see lib/park.lua) only when the id names a task this
-- swarm knows (submitted through Client, or a hash of it exists) and no other task holds it: an
-- entry pushed by hand with an id never seen is junk, bounded by deadLetterMax, so a producer of
-- garbage with fresh ids cannot grow Redis without bound.
local function refuse(reason, message, raw, id, extra)
  local record = false
  if id then
    local h, held = holder(prefix, id)
    record = not held and (h ~= nil or redis.call('SISMEMBER', KEYS[4], id) == 1)
  end
  park(deadStore(), now, reason, message, raw, id, worker, record, extra)
  parked[#parked + 1] = reason
  parked[#parked + 1] = message
end

-- the seed's fast path: this worker takes the entry at once, nothing of its function waiting
-- (fnsEmpty, above, and routedTo the functions this claim has queued an entry for since: only
-- they can have any now, as nothing else in a claim that found them empty, calm, adds to a
-- function's structure)
local routedTo = {}
local function direct(fn, g)
  return (room[fn] or 0) > 0 and taken < max and not isPaused(fn) and not limitOf(Q, 'f:' .. fn) and not heldFrom(fn)
    and (g == '' or not limitOf(Q, 'g:' .. g))
    and ((fnsEmpty and not routedTo[fn]) or redis.call('EXISTS', fnKey(Q, fn, 'groups'), fnKey(Q, fn, 'blocked')) == 0)
end

-- 1. Routing. Bounded, so that a queue full of bad entries cannot hold Redis in one long script.
-- The batch is judged first, without side effects, then handled in order (a bad entry parked, a
-- good one routed). Its good entries all get the same routing time, so which of them a claim
-- should take first depends on the whole batch: the fast path takes an entry only when routing
-- the batch first would have had this claim take it next anyway (see `alone`).

local n = #order

--[[
  The seed's case, entry by entry: a worker of one function (or of several, calm and with
  nothing of theirs queued, below), and nothing in the window this
  claim routes that could change which entry it takes first (no entry holds the words `priority`
  or `group`, nor a \u escape that could spell them). Every entry is then `alone` and first in
  turn (below), so each is handled as routing the whole batch would handle it; and routing stops
  where the worker's room ends: the rest stays on `new-task`, in order, for the next claim,
  rather than being routed into the function's structure only to be taken out of it again.
  Reading the whole window at every claim would cost more than it saves, so how many entries at
  the queue's right end are known to be plain is kept (lib/plain-window.lua: that count and the
  entry at the right end then, which must still be there): entries join on the left and leave
  on the right, so only the ones that joined since are read.
  A worker of several functions routes entry by entry too when nothing could hold an entry back
  but its function's room: no pause, limit or delay in the swarm, and none of its functions has
  anything queued (fnsEmpty). Each entry is then claimed at once when its function has room
  here (a turn among functions with nothing queued has nothing to give first), or routed into
  its function's queue (no room here, or a function only others run): the ingress is taken in
  its order.
]]
if not checked and verified > 0 and redis.call('LINDEX', Q, '-1') ~= knownHead then verified = 0 end
local stepwise = false
if n == 1 or fnsEmpty then
  local want = math.min(window, len)
  stepwise = true
  if verified < want then
    -- read a window further than this claim needs: the claims after it, each taking a few
    -- entries, find that much known already and read nothing (one LRANGE per window's worth of
    -- entries taken, not one per claim)
    local got = redis.call('LRANGE', Q, -math.min(len, want + window), -(verified + 1))
    -- (where claims before lib/plain-window.lua kept what they knew: one a claim of such a
    -- version left would stay for good. Removed here, once a window's worth of entries, and a
    -- claim of that version still running then reads its window again)
    redis.call('DEL', Q .. ':plain')
    -- (asked of them all at once first, joined by a newline, which none of the words holds, so
    -- that none is found across two entries: the usual answer, none holds any, then costs three
    -- finds, not three per entry)
    local joined = table.concat(got, '\n')
    if string.find(joined, 'priority', 1, true) or string.find(joined, 'group', 1, true) or string.find(joined, '\\u', 1, true) then
      -- (from the right: got[#got] is next to what is known)
      for i = #got, 1, -1 do
        local raw = got[i]
        if string.find(raw, 'priority', 1, true) or string.find(raw, 'group', 1, true) or string.find(raw, '\\u', 1, true) then break end
        verified = verified + 1
      end
    else
      verified = verified + #got
    end
    stepwise = verified >= want
  end
end
local popped = leanPopped

local batch = {}
-- Pops the ingress's right end, judged into the batch: the raw entry; false for a wake marker
-- (it has done its job: dropped); nil when the ingress is empty.
local function popEntry()
  local raw = redis.call('RPOP', Q)
  if not raw then return nil end
  popped = popped + 1
  if raw == 'wake' then return false end
  batch[#batch + 1] = judgeEntry(raw, maxBytes, KEYS[4])
  return raw
end
-- (each entry as popped: a too large one's judgement keeps only its start, routeSafely)
local raws = {}
if not stepwise then
  for _ = 1, window do
    local raw = popEntry()
    if raw == nil then break end
    if raw then raws[#batch] = raw end
  end
end

-- alone[i]: no later good entry of the batch of entry i's function would be taken before it, or
-- take the next turn: each is of the same group and of no higher priority (it then comes after,
-- by score or by routing order). Only such an entry may take the fast path.
local alone = {}
-- lastOf[fn]: where the last good entry of the batch for fn is
local lastOf = {}
do
  local laterGroup, laterTop = {}, {}
  for i = #batch, 1, -1 do
    local e = batch[i]
    if not e.bad then
      local g = laterGroup[e.fn]
      alone[i] = g == nil or (g == e.group and laterTop[e.fn] <= e.priority)
      laterGroup[e.fn] = (g == nil or g == e.group) and e.group or false
      laterTop[e.fn] = math.max(laterTop[e.fn] or -math.huge, e.priority)
      lastOf[e.fn] = lastOf[e.fn] or i
    end
  end
end

-- This claim takes the worker's functions in turn from `rotation` (2. below). Entry i of fn may
-- take the fast path only when no function ahead of fn in that turn could take a task first: it
-- has no room here, or nothing queued and no later entry in the batch. Else a steady stream of
-- fn's entries, each claimed as it comes, would keep the other functions' queued tasks waiting.
local turnOf = {}
for k = 0, n - 1 do turnOf[order[(rotation + k) % n + 1]] = k end
local function firstInTurn(fn, i)
  for k = 0, (turnOf[fn] or 0) - 1 do
    local f = order[(rotation + k) % n + 1]
    if room[f] > 0 and not isPaused(f) and ((lastOf[f] or 0) > i or redis.call('EXISTS', fnKey(Q, f, 'groups')) == 1) then return false end
  end
  return true
end

-- An entry cancelled before it was routed (cancel.lua) is dropped here, not parked nor run,
-- whatever it holds. Its ended hash carries the `unrouted` mark that says so, and reap.lua
-- keeps such a hash until this drop (deleted, the entry would be a new task): now it is
-- queued for cleanup like any ended task's.
-- (h, held: what holder(prefix, id) answered, when the caller has read it already)
local function dropCancelled(id, h, held, read)
  if not id then return false end
  if not read then h, held = holder(prefix, id) end
  if held ~= 'END' or h[5] ~= '1' then return false end
  redis.call('HDEL', prefix .. id, 'unrouted')
  redis.call('RPUSH', KEYS[10], id)
  return true
end

-- left: the entries this claim may still route, this one included
local function route(i, e, left)
  if e.bad then
    if not dropCancelled(e.bad[4]) then refuse(unpack(e.bad, 1, 5)) end
  else
    local id, fn, group, priority, raw = e.id, e.fn, e.group, e.priority, e.raw
    local h, held = holder(prefix, id)
    if dropCancelled(id, h, held, true) then
      -- (cancelled: dropped)
    elseif held == 'foreign' then
      refuse('bad_id', 'task ' .. quoted(id) .. ': its key holds a value that is not a task hash', raw)
    elseif held then
      refuse('duplicate', 'task id ' .. quoted(id) .. ' is already ' .. held, raw, id)
    else
      local key = prefix .. id
      -- its place, kept even when it is claimed at once: a task put back returns to it, ahead of
      -- what was routed after it (lib/put-back.lua)
      -- (numbered a block at a time: as many as the room this claim may still fill, and never
      -- more than the entries it may still route: a room is a worker's concurrency, up to 2^31 - 1
      -- per function, and a block that large would push the swarm's counter past the 14 digits
      -- members are written with within thousands of claims)
      local member, score = placeOf(Q, id, now, priority, math.max(1, math.min(roomLeft, left)))
      -- (stepwise, no function ahead in turn can have anything queued and room: see above)
      if alone[i] and direct(fn, group) and (stepwise or firstInTurn(fn, i)) then
        claimTask(id, fn, group, h and h[2], h and h[3], raw, e, member, score)
      else
        -- (its structure first: a refusal there leaves nothing of it written, routeSafely)
        enqueue(Q, fn, group, member, score)
        redis.call('HSET', key, 'state', 'QUEUED', 'update', nowS, 'data', raw, unpack(routedFields(e, member, score)))
        redis.call('SREM', KEYS[4], id)
        routedTo[fn] = true
      end
    end
  end
end

-- A write Redis refuses while an entry is routed (a key of its function's queue damaged by hand:
-- WRONGTYPE) is that entry's: it is parked (unrunnable, Redis's words in its message; retried
-- from the dead letters once the key is mended), and the entries popped with it are routed on.
-- Raised, it failed the claim after the pops: every entry the claim had popped was lost, tasks of
-- other functions with them (test/refused-write-leaves-nothing.test.ts). Nothing of the entry is
-- written before the refusal (route writes its structure first, lib/queue.lua `enqueue`).
-- Parking refused too (the dead-letter store damaged by hand), the entry goes back to the
-- ingress, on the left, behind what is queued, and the refusal is said: raised, the claim failed
-- after its pops, and the good entries popped with it were lost (test/refused-route-park-
-- refused.test.ts). It comes round again at later claims, parked once the store is mended.
local pushedBack = false
local function routeSafely(i, e, left, raw)
  local ok, err = pcall(route, i, e, left)
  if ok then return end
  local why = refusal(err)
  local message = 'task ' .. quoted(e.id or '?') .. ' could not be queued: Redis refused a write to its function\'s queue (' .. why .. ')'
  if e.bad then message = e.bad[2] .. '; and Redis refused to park it (' .. why .. ')' end
  ok, err = pcall(refuse, 'unrunnable', message, e.raw or e.bad[3], e.id or e.bad[4])
  if ok then return end
  redis.call('LPUSH', Q, raw)
  pushedBack = true
  parked[#parked + 1] = 'refused'
  parked[#parked + 1] = 'entry ' .. quoted(e.id or excerpt(raw)) .. ' could not be routed nor parked: Redis refused (' .. refusal(err) .. '); it waits in the queue until the key is mended'
end

if stepwise then
  for _ = popped + 1, window do
    if taken >= max or roomLeft <= 0 then break end
    -- (past the entries it found, the right end is one this claim pushed back: popped again, it
    -- was refused and pushed back again, its window's worth of times)
    if pushedBack and popped >= len then break end
    local raw = popEntry()
    if raw == nil then break end
    if raw then
      alone[#batch] = true
      routeSafely(#batch, batch[#batch], math.min(window, len) - popped + 1, raw)
    end
  end
else
  for i, e in ipairs(batch) do routeSafely(i, e, #batch - i + 1, raws[i]) end
end
-- (an entry pushed back is not known plain: nothing is known)
noteWindow(db, Q, pushedBack and 0 or verified, popped)

-- 2. Claiming, from each of the worker's functions in turn.
-- The swarm's keys a task is written to once it is popped from its function's queue (dequeue:
-- `counts`; claimTask: the lease index, `tasks`, `queued`; acquire: `running`, which a rate-only
-- limit does not read before), read once before the claim's first pop: one damaged by hand
-- (WRONGTYPE) refuses here, before a task is taken, not after its pop (left QUEUED in no queue:
-- lost) or after its hash was written (RUNNING for this worker, never told of it, requeued a
-- taskTimeout on as a death), the refusal swallowed by claimFrom's pcall
-- (test/refused-claim-swarm-keys.test.ts).
local writable = false
local function readWritesFirst()
  redis.call('ZSCORE', KEYS[3], '')
  redis.call('SISMEMBER', KEYS[2], '')
  redis.call('SISMEMBER', KEYS[4], '')
  redis.call('HGET', Q .. ':counts', '')
  if anyLimits(Q) then redis.call('HGET', Q .. ':running', '') end
  writable = true
end
-- A task popped that a branch below cannot park or end (a key of the dead-letter store, or the
-- ended list, damaged by hand: WRONGTYPE, refused before anything of the task is written,
-- lib/park.lua, readCancelWrites) goes back to its place in its queue, and the refusal is the
-- function's (said in the reply, below); before, it was left QUEUED in no queue: lost, or ended
-- out of the ended list: never cleaned up, its dedupe key held, its end not told
-- (test/refused-claim-park-popped.test.ts).
local function putBack(fn, g, member, score, err)
  enqueue(Q, fn, g, member, score)
  error(err, 0)
end
-- what ending a cancelled task writes besides its hash, read first: the ended list, and the
-- task that holds its dedupe key dk (answered: the key is freed when it is this one)
local function readCancelWrites(dk)
  redis.call('LLEN', KEYS[10])
  return dk and redis.call('HGET', dedupeKey(Q), dk)
end
-- Function fn's tasks, while the worker has room for them.
local function claimFrom(fn)
  while room[fn] > 0 and taken < max do
    local fnUntil = blockedUntil(Q, 'f:' .. fn, now)
    if fnUntil then
      noteWake(fnUntil)
      break
    end
    if not writable then readWritesFirst() end
    local id, g, member, score = dequeue(Q, fn, now, heldFrom(fn))
    if not id then
      noteWake(g)
      break
    end
    local h = fields(prefix .. id, 'state', 'data', 'attempt', 'claims', 'cancelling', 'key')
    -- (a hash removed or edited by hand meanwhile: that member names no task to run)
    if h and h[1] == 'QUEUED' and not h[2] then
      -- queued, but its entry removed by hand: parked, as the monitor parks such a RUNNING
      -- task (requeue.lua), not left QUEUED in no queue
      local message = 'task ' .. quoted(id) .. ' was queued but its hash holds no entry to run'
      local ok, err = pcall(park, deadStore(), now, 'unrunnable', message, '', id, worker, true)
      if not ok then putBack(fn, g, member, score, err) end
      parked[#parked + 1] = 'unrunnable'
      parked[#parked + 1] = message
    elseif h and h[1] == 'QUEUED' then
      if h[5] then
        -- cancelled while it ran (cancel.lua), and put back before the stop ended it (its
        -- worker died, or handed it back): it ends cancelled here, it does not run again
        local key = prefix .. id
        local ok, keyHolder = pcall(readCancelWrites, h[6])
        if not ok then putBack(fn, g, member, score, keyHolder) end
        redis.call('HSET', key, 'state', 'END', 'update', now, 'end', now, 'outcome', 'cancelled')
        redis.call('HDEL', key, 'cancelling')
        redis.call('RPUSH', KEYS[10], id)
        if keyHolder == id then redis.call('HDEL', dedupeKey(Q), h[6]) end
        publishEvent(key .. '-events', 'end', id, now, 'outcome', '"cancelled"')
      elseif #h[2] > maxBytes then
        -- placed by Client.submit (no worker saw its size) or routed by a worker allowed more
        local message = 'task ' .. quoted(id) .. ' is ' .. #h[2] .. ' bytes, over maxPayloadBytes ' .. maxBytes
        local ok, err = pcall(park, deadStore(), now, 'too_large', message, h[2], id, worker, true, { truncate = true })
        if not ok then putBack(fn, g, member, score, err) end
        parked[#parked + 1] = 'too_large'
        parked[#parked + 1] = message
      else
        claimTask(id, fn, g, h[3], h[4], nil)
      end
    end
  end
end
-- A read or write Redis refuses in a function's queue (a key of it damaged by hand: WRONGTYPE) is
-- that function's: it is skipped, said in the reply (a `refused` pair where parked entries go:
-- the worker logs it), and the others are claimed from. Raised, it failed the claim after what
-- the routing and the functions before it had taken: RUNNING for a worker never told, requeued
-- a taskTimeout on as a death, at every claim (test/refused-claim-other-function.test.ts).
-- (What the refused step wrote before the refusal stays, as it did when the claim failed:
-- Redis has no rollback. A queue damaged at its turns or a group's zset refuses the first read
-- or pop of it, before a task is taken.)
for k = 0, n - 1 do
  if taken >= max then break end
  local fn = order[(rotation + k) % n + 1]
  if room[fn] > 0 and not isPaused(fn) then
    local ok, err = pcall(claimFrom, fn)
    if not ok then
      parked[#parked + 1] = 'refused'
      parked[#parked + 1] = 'claims of function ' .. quoted(fn) .. ' were refused by Redis (' .. refusal(err) .. '): its tasks wait until the key is mended'
    end
  end
end

-- Promoted tasks this claim left queued may be for functions only other workers run: wake them.
if promoted > 0 then wake(Q) end

return claimReply(claimed, parked, wakeAt, now, keepReceipt(KEYS[9], token, claimed, nowS), workers)
