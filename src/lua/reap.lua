--[[
  reap.lua: the monitor's cleanup of ended tasks. Takes ids from the `ended` list (filled by
  finish.lua), removes them from `tasks`, moves `manual_end` ones to `end-task` (hash kept),
  and lets the others' hashes expire after the retention (0 = delete at once, as the seed).
  A parked task's hash (lib/park.lua) is never on this list's terms: it stays until retried or
  purged, so it is left alone even if its id is met here. So is the hash of a task cancelled
  while its entry waited on `new-task` (`unrouted`), until the claim that drops the entry.

  The ids whose hashes are kept (a retention above 0) go into `recentEnded` (zset: id -> a
  number that only grows, from the highest there: the order they ended in, whichever monitor
  cleans up), which keeps the last ARGV[4] of them: what ended lately, for a look (the
  dashboard), where `ended` holds an id only until this cleanup. Those whose hashes are gone
  (expired, deleted) are dropped from its old end at each cleanup; each monitor's retention
  applies to the hashes it kept, not to the list.

  KEYS[1] ended (list)   KEYS[2] taskSet   KEYS[3] endQueue   KEYS[4] recentEnded (zset)
  ARGV[1] task key prefix   ARGV[2] retention ms   ARGV[3] max ids this call
  ARGV[4] how many ids recentEnded keeps

  Returns { ids cleaned up, ids still waiting }: the monitor calls again at once while the
  second is not 0, so cleanup keeps up with any rate of ends.
]]
--@include lib/fields.lua

local prefix, retention, limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
-- (the oldest listed whose hashes are gone, at every cleanup, a bounded few: a swarm gone quiet
-- lists none of them in the end, and each is dropped once)
for _, id in ipairs(redis.call('ZRANGE', KEYS[4], 0, 49)) do
  if redis.call('EXISTS', prefix .. id) == 1 then break end
  redis.call('ZREM', KEYS[4], id)
end
local ids = redis.call('LPOP', KEYS[1], limit)
if not ids then return { 0, 0 } end
local kept = {}
for _, id in ipairs(ids) do
  local key = prefix .. id
  redis.call('SREM', KEYS[2], id)
  local h = fields(key, 'state', 'manual_end', 'parked', 'unrouted') or {}
  -- (cancelled while its entry waited on the queue: the hash is what tells the claim to drop
  -- that entry, so it stays until then; the claim queues it here again, cleaned up that time)
  if h[1] == 'END' and not h[3] and not h[4] then
    if h[2] == '1' then
      redis.call('SADD', KEYS[3], id)
    elseif retention == 0 then
      redis.call('DEL', key)
    else
      redis.call('PEXPIRE', key, retention)
      kept[#kept + 1] = id
    end
  end
end
if #kept > 0 then
  local top = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
  local last = tonumber(top[2]) or 0
  local add = {}
  for i, id in ipairs(kept) do
    add[#add + 1] = last + i
    add[#add + 1] = id
  end
  redis.call('ZADD', KEYS[4], unpack(add))
  -- (past the cap: the oldest)
  redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -tonumber(ARGV[4]) - 1)
end
return { #ids, redis.call('LLEN', KEYS[1]) }
