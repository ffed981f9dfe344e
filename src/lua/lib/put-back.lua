--[[
  lib/put-back.lua: a RUNNING task goes back to the queue, at its place: into its function's
  structure with the member and score it was routed with (kept on its hash, also when it was
  claimed on the fast path), so it is taken before what was queued after it. A hash without
  them (re-asserted from a worker's memory after Redis lost its data, or written by hand) gets a
  new place as of its claim. Its limits are
  released and idle workers woken. The caller has checked the lease and says what becomes of
  the hash's other fields (attempt, history). A key it would write of another type (written by
  hand) raises Redis's error before its first write.

  putBack(Q, key, id, now, h) with h = { fn, group, priority, member, score, start } from the hash
  Returns false (and does nothing) when the hash names no function to queue it for.

  (functionOf, which gives a task's function from its hash or else its entry: lib/fields.lua)
]]
--@include lib/queue.lua
--@include lib/fields.lua

local function putBack(Q, key, id, now, h)
  if not h.fn then return false end
  local g = h.group or ''
  local member, score = h.member, num(h.score)
  if not member or not score then member, score = placeOf(Q, id, num(h.start) or now, num(h.priority) or 0) end
  -- (its structure first: a key of it damaged by hand refuses the call before anything of the
  -- task is written, and it stays as it was, to be put back once mended; lib/queue.lua. So are
  -- the keys its release gives its group's turn back in, read first: refused there after the
  -- writes, the put-back was done and its group, held back by its limit, left out of every turn)
  if g ~= '' then
    local why = unblockRefusal(Q, g)
    if why then error({ err = why }) end
  end
  enqueue(Q, h.fn, g, member, score)
  -- (the function too: a hash written by hand may lack it, found in its entry by the caller)
  redis.call('HSET', key, 'state', 'QUEUED', 'update', now, 'member', member, 'score', score, 'function', h.fn)
  redis.call('HDEL', key, 'lease', 'worker')
  release(Q, h.fn, g)
  wake(Q)
  return true
end
