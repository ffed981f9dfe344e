--[[
  lib/queue.lua: a function's ready tasks (docs/queue-layout.md). Per function, its groups take
  turns (Q:f:<fn>:groups, zset group -> turn), and within a group tasks are taken by score:
  routing time minus priority x 1000 ms (a priority-aged FIFO: nothing starves), ties in routing
  order (the member is "<seq>:<id>", seq zero-padded). A group held back by a limit waits in
  Q:f:<fn>:blocked (score: when to try it again, +inf until one of its tasks ends).
]]
--@include lib/names.lua
--@include lib/limits.lua
--@include lib/call-state.lua
--@include lib/fields.lua

local PRIORITY_AGING_MS = 1000

local function nextTurn(groups)
  local last = redis.call('ZRANGE', groups, -1, -1, 'WITHSCORES')
  return (tonumber(last[2]) or 0) + 1
end

-- Routing numbers are taken from Q:counts `block` at a time (a claim about to route up to that
-- many entries makes one HINCRBY, not one per entry). Numbers a call reserved and did not use
-- are skipped: only their order matters, and a claim reserves no more than its room, nor than
-- the entries it may still route (a room may be billions: the counter must grow with what is routed).
local seqQ, seqNext, seqLast = nil, 0, -1
onEachCall(function() seqQ, seqNext, seqLast = nil, 0, -1 end)

-- a routing number as placeOf writes it (`%014d`), made of its hundreds (printed once per hundred
-- numbers, kept) and its last two digits (from a table): a printf per routed entry was about 1.4k
-- Redis instructions of a task's claim (bench/analysis.md, thirty-sixth session)
local TWO_DIGITS = {}
for i = 0, 99 do TWO_DIGITS[i] = (i < 10 and '0' or '') .. i end
-- (the last hundreds printed: one)
local seqHundreds, seqHundredsText = -1, nil -- memo: a pure function's results, bounded
local function seqText(seq)
  -- (below 0, or past what a double counts exactly in hundreds, printed whole)
  if seq < 0 or seq >= 1e15 then return string.format('%014d', seq) end
  local last = seq % 100
  local hundreds = (seq - last) / 100
  if hundreds ~= seqHundreds then seqHundreds, seqHundredsText = hundreds, string.format('%012d', hundreds) end
  return seqHundredsText .. TWO_DIGITS[last]
end

-- a new place in the queue: the member (in routing order) and its score
local function placeOf(Q, id, now, priority, block)
  if seqQ ~= Q or seqNext > seqLast then
    local n = block or 1
    seqQ = Q
    seqLast = redis.call('HINCRBY', Q .. ':counts', 'seq', SMALL_INT_TEXT[n] or string.format('%d', n))
    seqNext = seqLast - n + 1
  end
  local seq = seqNext
  seqNext = seqNext + 1
  return seqText(seq) .. ':' .. id, now - (priority or 0) * PRIORITY_AGING_MS
end

-- the id a member names ("<seq>:<id>", as placeOf writes it), or nil for a string of another form
local function memberId(m)
  if string.find(m, '^%d%d%d%d%d%d%d%d%d%d%d%d%d%d:') then return string.sub(m, 16) end
  return nil
end

-- put task `id` in its function's structure, at `score`. Its reads come first, and its first
-- write is the group's zset: a key of the structure damaged by hand (WRONGTYPE) refuses it
-- before it has written anything (Q:counts, its last write, placeOf has written already). A
-- caller that makes or moves a task calls it before its other writes of that task, so that a
-- refusal leaves nothing half made: no hash QUEUED in no queue (Redis has no rollback).
local function enqueue(Q, fn, g, member, score)
  local groups = fnKey(Q, fn, 'groups')
  local turn = not redis.call('ZSCORE', groups, g) and not redis.call('ZSCORE', fnKey(Q, fn, 'blocked'), g)
  redis.call('ZADD', groupKey(Q, fn, g), score, member)
  if turn then redis.call('ZADD', groups, nextTurn(groups), g) end
  redis.call('HINCRBY', Q .. ':counts', 'q:' .. fn, 1)
end

-- take `member` (task `id`) out of its function's structure, wherever it is in it
local function unqueue(Q, fn, g, member)
  if redis.call('ZREM', groupKey(Q, fn, g), member) == 0 then return false end
  redis.call('HINCRBY', Q .. ':counts', 'q:' .. fn, -1)
  if redis.call('ZCARD', groupKey(Q, fn, g)) == 0 then
    redis.call('ZREM', fnKey(Q, fn, 'groups'), g)
    redis.call('ZREM', fnKey(Q, fn, 'blocked'), g)
  end
  return true
end

--[[
  The next task of fn that may start now: the head of the group whose turn it is, skipping (and
  setting aside) groups at their limit. Returns id, group, or nil and the earliest time a group
  set aside may be tried again (-1: none). With `before` (a score and a member), a group whose
  head is placed there or after is passed over in this call, its turn kept; none left: nil and
  `now` (try again at once).
]]
local function dequeue(Q, fn, now, before)
  local groups, blocked = fnKey(Q, fn, 'groups'), fnKey(Q, fn, 'blocked')
  -- groups whose rate window has passed take their turn again
  -- (A group moves between `blocked` and its turns with its `blocked-in` set written first, its
  -- reads before: that set damaged by hand, WRONGTYPE, refuses the move with nothing written, the
  -- group where it was. Written after, a refusal left it out of `blocked` and of the turns, or
  -- set aside where no release looks for it: its tasks never ran, the key mended or not;
  -- test/refused-group-turn.test.ts)
  for _, g in ipairs(redis.call('ZRANGEBYSCORE', blocked, '-inf', now, 'LIMIT', 0, 100)) do
    local turn = redis.call('ZCARD', groupKey(Q, fn, g)) > 0 and nextTurn(groups)
    -- no longer blocked here (the set goes with its last function: a task of g taken now may
    -- never run, parked too_large, and so never release g to drop it)
    redis.call('SREM', blockedInKey(Q, g), fn)
    redis.call('ZREM', blocked, g)
    if turn then redis.call('ZADD', groups, turn, g) end
  end
  -- (groups passed over: their heads wait for the `before` place)
  local passed = 0
  for _ = 1, 100 do
    local head = redis.call('ZRANGE', groups, passed, passed)
    local g = head[1]
    if not g then break end
    local untilMs = g ~= '' and blockedUntil(Q, 'g:' .. g, now)
    local first = not untilMs and before and redis.call('ZRANGE', groupKey(Q, fn, g), 0, 0, 'WITHSCORES')
    local at = first and tonumber(first[2])
    if untilMs then
      redis.call('SADD', blockedInKey(Q, g), fn)
      redis.call('ZADD', blocked, untilMs == -1 and '+inf' or untilMs, g)
      redis.call('ZREM', groups, g)
    elseif at and (at > before[1] or (at == before[1] and first[1] >= before[2])) then
      passed = passed + 1
    else
      local popped = redis.call('ZPOPMIN', groupKey(Q, fn, g))
      if popped[1] then
        if redis.call('ZCARD', groupKey(Q, fn, g)) > 0 then redis.call('ZADD', groups, nextTurn(groups), g)
        else redis.call('ZREM', groups, g) end
        redis.call('HINCRBY', Q .. ':counts', 'q:' .. fn, -1)
        return string.sub(popped[1], 16), g, popped[1], tonumber(popped[2])
      end
      redis.call('ZREM', groups, g)
    end
  end
  if passed > 0 then return nil, now end
  local first = redis.call('ZRANGE', blocked, 0, 0, 'WITHSCORES')
  local wakeAt = tonumber(first[2])
  if wakeAt and wakeAt ~= math.huge then return nil, wakeAt end
  return nil, -1
end
