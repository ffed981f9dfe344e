--[[
  lib/park.lua: park an entry in the dead-letter store, with its reason. The store is four keys
  (src/keys.ts): `dead:entries` (hash: key -> the entry's JSON), `dead:index` (zset: key -> when
  it was parked, Redis ms), `dead:junk` (zset: the keys of entries that hold no task, which the
  monitor trims past deadLetterMax) and `dead:stats` (hash: `seq`, the last key given, and the
  counts `parked:<reason>` and `dropped:<reason>`). A key is a number that only grows, so it
  names its entry for good: retry and purge address it whatever was parked since. It starts at
  the Redis time (ms) of the first parking, so keys are not given twice even after Redis lost its
  data (a retry by a key from an old log line then finds nothing, not another entry).

  When the entry is a task's (its id is known and belongs to no other task: not a duplicate), the
  task's hash records the parking: state END, outcome failed, `parked` (the reason), `dead` (the
  key), `error` {name, code, message, reason}; the id leaves `tasks`, the lease index and
  `queued`; the hash does not expire; the runtime's `end` event is published. So `get`, `wait`
  and the CLI all see how it ended. A duplicate's id is another task's: nothing of it is touched.

  park(D, now, reason, message, raw, id, by, record, extra)
    D       { entries, index, junk, stats, queued, taskSet, leases, prefix, Q } (key names; Q
            the queue, whose dedupe keys hash a parked task's key is freed from)
    id      the task id when known (nil for an entry without one)
    by      the worker or monitor that parks it
    record  true: the entry is the task's (see above); false: it holds no task (junk)
    extra   optional { fn = function name, history = JSON array text, truncate = true: keep only
            the first 4 KB of raw (an entry too large for the queue is not stored whole twice;
            it cannot be retried: its producer must send it again); size = raw's length when raw
            is already cut to its first 4 KB }
  Returns the entry's key.
]]
--@include lib/event.lua
--@include lib/names.lua
--@include lib/park-codes.lua

local function park(D, now, reason, message, raw, id, by, record, extra)
  -- (the keys written below read before the first write, the stats' `seq` being it: one damaged
  -- by hand (WRONGTYPE) refuses the parking with nothing of it written, so that a caller that
  -- took the task out of its place can put it back, not leave it in no place nor an entry the
  -- index does not list. `seq` advanced before a refusal at `entries` only skips a key. The
  -- sets and lease index the task leaves are the caller's to have read: claim.lua reads them
  -- before its pops)
  redis.call('ZCARD', D.index)
  if not record then redis.call('ZCARD', D.junk) end
  local tkey = record and D.prefix .. id
  local dk = record and D.Q and redis.call('HGET', tkey, 'key')
  local keyHeld = dk and redis.call('HGET', dedupeKey(D.Q), dk) == id
  redis.call('HSETNX', D.stats, 'seq', now)
  local key = string.format('%d', redis.call('HINCRBY', D.stats, 'seq', 1))
  local history = extra and extra.history
  local entry = { key = key, reason = reason, message = message, raw = raw, at = now, worker = by }
  local size = extra and extra.size or #raw
  if extra and extra.truncate and size > 4096 then
    entry.raw = string.sub(raw, 1, 4096)
    entry.truncated = size
  end
  if id then entry.id = id end
  if record then entry.task = true end
  if history then
    local ok, list = pcall(cjson.decode, history)
    if ok and type(list) == 'table' then entry.history = list end
  end
  redis.call('HSET', D.entries, key, cjson.encode(entry))
  redis.call('ZADD', D.index, now, key)
  redis.call('HINCRBY', D.stats, 'parked:' .. reason, 1)
  if not record then
    redis.call('ZADD', D.junk, now, key)
    return key
  end
  local c = PARK_CODES[reason]
  local err = cjson.encode({ name = c.name, code = c.code, message = message, reason = reason })
  redis.call('HSET', tkey, 'state', 'END', 'outcome', 'failed', 'error', err, 'parked', reason, 'dead', key, 'end', now, 'update', now)
  if extra and extra.fn then redis.call('HSET', tkey, 'function', extra.fn) end
  if history then redis.call('HSET', tkey, 'history', history) end
  -- parked is ended: its dedupe key is free again (retry-dead.lua takes it back if still free)
  if keyHeld then redis.call('HDEL', dedupeKey(D.Q), dk) end
  redis.call('HDEL', tkey, 'lease', 'result')
  redis.call('PERSIST', tkey)
  redis.call('SREM', D.taskSet, id)
  redis.call('ZREM', D.leases, id)
  redis.call('SREM', D.queued, id)
  publishEvent(tkey .. '-events', 'end', id, now, 'outcome', '"failed"', 'error', err, 'parked', '"' .. reason .. '"', 'dead', '"' .. key .. '"')
  return key
end
