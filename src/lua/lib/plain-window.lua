--[[
  lib/plain-window.lua: what claims know of an ingress's right end (claim.lua's window): how many
  entries there hold neither `group` nor `priority` (nor a \u escape that could spell them), and
  the entry that will be at the right end next, when they learnt it. The next claim trusts the
  count only if the first entry it pops (or, routing otherwise, the entry it reads there) is that
  one: entries join on the left and leave on the right, and a right end changed by other means
  (a hand RPOP or RPUSH, another database's swarm, a FLUSHALL) is read again. The check trusts
  the entry's text: a wake marker, whose text every marker shares, is never remembered as the
  head (see notePlain). A dataset wiped or swapped since (FLUSHDB, FLUSHALL, SWAPDB) may hold
  the same entry at its right end and others behind it: claim.lua trusts what is known only
  while its worker's receipts hash still holds its `ttl` mark, which went with the dataset.

  Kept in the library's memory, across calls, not in a key: a claim then neither reads nor
  writes what it knows, only reads the new right end once (one LINDEX where a hash kept in Redis
  cost four calls, a quarter of a one-task claim's commands). Lost with the library (a restart, a
  failover, a new version loaded): the next claim reads the window again, as a first claim does.
  Nothing but this cache depends on it, and every effect a claim has is written to Redis.

  Keyed by database (the worker's `db`: Lua cannot ask) and queue key. Bounded: the heads held
  are entries of up to maxPayloadBytes, in Lua's heap, which maxmemory does not count, so all is
  forgotten once the heads held pass PLAIN_BYTES_MAX or PLAIN_QUEUES_MAX queues.

  knownPlain(db, Q) -> n, head (0, nil when nothing is known)
  notePlain(db, Q, n, head): n entries from the right end are known plain, head the entry there
  now (n <= 0 or head nil: nothing is known)
  noteWindow(db, Q, verified, popped): a claim knew `verified` entries plain and took `popped`
]]
local PLAIN_QUEUES_MAX, PLAIN_BYTES_MAX = 256, 8 * 1024 * 1024
local plainOf, plainQueues, plainBytes = {}, 0, 0 -- cache: checked against Redis at every use, bounded

local function knownPlain(db, Q)
  local ofDb = plainOf[db]
  local k = ofDb and ofDb[Q]
  if k then return k[1], k[2] end
  return 0, nil
end

local function notePlain(db, Q, n, head)
  local ofDb = plainOf[db]
  local k = ofDb and ofDb[Q]
  -- (a wake marker is never the head to check: every marker reads the same, so one at the right
  -- end says nothing of the entries behind it, changed meanwhile by claims this memory did not
  -- see: another version's library, or this one's on a primary failed over and back)
  if n <= 0 or not head or head == 'wake' then
    if k then
      plainBytes = plainBytes - #k[2]
      plainQueues = plainQueues - 1
      ofDb[Q] = nil
    end
    return
  end
  if k then
    plainBytes = plainBytes - #k[2] + #head
    k[1], k[2] = n, head
  else
    if not ofDb then
      ofDb = {}
      plainOf[db] = ofDb
    end
    plainBytes = plainBytes + #head
    plainQueues = plainQueues + 1
    ofDb[Q] = { n, head }
  end
  if plainBytes > PLAIN_BYTES_MAX or plainQueues > PLAIN_QUEUES_MAX then
    plainOf, plainQueues, plainBytes = {}, 0, 0
  end
end

-- What is known once a claim that knew `verified` entries plain has taken `popped` of them: the
-- rest, with the entry now at the right end, or nothing.
local function noteWindow(db, Q, verified, popped)
  if verified > popped then
    -- ('-1' as text: a number argument costs Redis a printf)
    notePlain(db, Q, verified - popped, redis.call('LINDEX', Q, '-1'))
  else
    notePlain(db, Q, 0, nil)
  end
end
