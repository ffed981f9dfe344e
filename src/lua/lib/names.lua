--[[
  lib/names.lua: the names of the keys made per function and per group (src/keys.ts builds the
  fixed ones). Q is the queue's key (`new-task` with its prefix); the others hang off it. A name
  is written with its length first, so no function or group name, whatever it holds (`:`
  included), can name another one's key.
]]
local function part(name)
  return #name .. ':' .. name
end

-- a key of function fn's structure: 'groups' (zset group -> turn), 'blocked' (zset group -> when
-- to try it again). Kept across calls (a name is a pure function of its parts): a claim names
-- both keys of each of its worker's functions at every call, and writing a name's length costs a
-- printf each time. Bounded: forgotten whole once it holds FN_KEYS_MAX functions, and only names
-- of at most FN_KEY_NAME_MAX bytes are kept: a name is any string an entry holds, up to
-- maxPayloadBytes, and the memo lives in Lua's heap, which maxmemory does not count (4096 names
-- of a MiB, three copies of each, would be 12 GiB held for good after their tasks are gone).
local FN_KEYS_MAX, FN_KEY_NAME_MAX = 4096, 256
local fnKeys, fnKeysHeld = {}, 0 -- memo: a pure function's results, bounded
local function fnKey(Q, fn, what)
  if #fn > FN_KEY_NAME_MAX then return Q .. ':f:' .. part(fn) .. ':' .. what end
  local ofQ = fnKeys[Q]
  if not ofQ then
    ofQ = {}
    fnKeys[Q] = ofQ
  end
  local ofFn = ofQ[fn]
  if not ofFn then
    if fnKeysHeld >= FN_KEYS_MAX then
      fnKeys, fnKeysHeld, ofQ = {}, 0, {}
      fnKeys[Q] = ofQ
    end
    ofFn = {}
    ofQ[fn] = ofFn
    fnKeysHeld = fnKeysHeld + 1
  end
  local key = ofFn[what]
  if not key then
    key = Q .. ':f:' .. part(fn) .. ':' .. what
    ofFn[what] = key
  end
  return key
end

-- the zset of group g's tasks of function fn: "<seq>:<id>" -> score
local function groupKey(Q, fn, g)
  return Q .. ':f:' .. part(fn) .. ':g:' .. part(g)
end

-- the set of functions in which group g is blocked by its limit
local function blockedInKey(Q, g)
  return Q .. ':g:' .. part(g) .. ':blocked-in'
end

-- the zset of recent starts under a rate limit; target is 'f:<fn>' or 'g:<group>'
local function rateKey(Q, target)
  return Q .. ':rate:' .. part(target)
end

-- The zsets of tasks waiting for a time (delayed, or retrying after a backoff) -> due (ms),
-- lib/delayed.lua: delayedKey under each task's id (every version's), placedDelayedKey under its
-- place's member ("<seq>:<id>", lib/queue.lua), the order this version promotes in.
local function delayedKey(Q)
  return Q .. ':delayed'
end
local function placedDelayedKey(Q)
  return Q .. ':delayed:placed'
end

-- the hash of dedupe keys: key -> the id of the task submitted with it
local function dedupeKey(Q)
  return Q .. ':keys'
end

-- The keys a claim asks EXISTS of (claim.lua): the swarm's holds (pause, limits, delays), and
-- the lot with each of the worker's functions' `groups` and `blocked`. Kept from the last call
-- that asked of the same queue and functions (a worker asks of the same at every claim): two
-- tables and their names made per call cost about what the EXISTS does. One set held: a name
-- is a pure function of its parts, and the set is one claim's arguments' worth.
local askedQ, askedFns, askedHolds, askedAll = nil, {}, nil, nil -- memo: a pure function's results, bounded
local function claimCheckKeys(Q, fns)
  if Q == askedQ and #fns == #askedFns then
    local same = true
    for i = 1, #fns do
      if fns[i] ~= askedFns[i] then
        same = false
        break
      end
    end
    if same then return askedHolds, askedAll end
  end
  local holds = { Q .. ':paused', Q .. ':limits', delayedKey(Q), placedDelayedKey(Q) }
  local all = { holds[1], holds[2], holds[3], holds[4] }
  for _, f in ipairs(fns) do
    all[#all + 1] = fnKey(Q, f, 'groups')
    all[#all + 1] = fnKey(Q, f, 'blocked')
  end
  askedQ, askedFns, askedHolds, askedAll = Q, fns, holds, all
  return holds, all
end
