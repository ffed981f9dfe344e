--[[
  lib/plain-window.lua: how many entries at the ingress's right end a claim knows to hold
  neither `group` nor `priority` (claim.lua routes entry by entry only while its whole window is
  known so). Reading the window at every claim would cost more than it saves, and so did keeping
  the count in a Redis hash (a read and a write, and the right end read twice, at every claim:
  four commands of a seed claim's twenty-odd). It is kept here, in the library's memory, and
  checked before each use with one LINDEX: the farthest entry known must still be as far from
  the right end as the count says.

  Entries join on the left and leave on the right, so a claim's own pops keep the farthest known
  entry where the count, less what it popped, says. An entry taken from the right, put on the
  right or removed in between by other means (by hand, or by a claim of another version of this
  library) moves it: the check fails and the window is read again. A wake marker is never the
  farthest known entry (every marker has the same text, so its place would tell nothing).
  What is kept is lost with the library (a restart, FUNCTION LOAD, a failover): then the window
  is read again. A wrong count could only change which of two hand-pushed entries within one
  window runs first, never lose, strand or repeat a task: every entry is judged when it is taken.

  plainKnown(Q, len) returns n, mark: n entries at the right end of Q (of length len) are known
  plain, the farthest of them kept as `mark` (0, nil: nothing known).
  plainMark(raw) is what is kept of an entry to know it again: the entry when short, else its
  first bytes and its length (an entry can be as large as maxPayloadBytes).
  plainKeep(Q, n, mark): n entries at the right end are known plain, the farthest one `mark`
  (n <= 0: nothing is known).
]]
local PLAIN_QUEUES_MAX, PLAIN_MARK_BYTES = 256, 200
local plainCount, plainFar, plainHeld = {}, {}, 0 -- cache: checked against Redis before each use, bounded

local function plainMark(raw)
  if #raw <= PLAIN_MARK_BYTES then return raw end
  -- (longer than any entry kept whole: it cannot equal one)
  return string.sub(raw, 1, PLAIN_MARK_BYTES) .. '\0' .. #raw
end

local function plainKeep(Q, n, mark)
  if n <= 0 or not mark then
    if plainCount[Q] then
      plainCount[Q], plainFar[Q] = nil, nil
      plainHeld = plainHeld - 1
    end
    return
  end
  if not plainCount[Q] then
    if plainHeld >= PLAIN_QUEUES_MAX then plainCount, plainFar, plainHeld = {}, {}, 0 end
    plainHeld = plainHeld + 1
  end
  plainCount[Q], plainFar[Q] = n, mark
end

local function plainKnown(Q, len)
  local n = plainCount[Q]
  if not n then return 0, nil end
  local far = n <= len and redis.call('LINDEX', Q, -n)
  if far and plainMark(far) == plainFar[Q] then return n, plainFar[Q] end
  plainKeep(Q, 0)
  return 0, nil
end
