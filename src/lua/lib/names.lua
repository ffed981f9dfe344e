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
-- to try it again)
local function fnKey(Q, fn, what)
  return Q .. ':f:' .. part(fn) .. ':' .. what
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

-- the zset of tasks waiting for a time (delayed, or retrying after a backoff): id -> due (ms)
local function delayedKey(Q)
  return Q .. ':delayed'
end

-- the hash of dedupe keys: key -> the id of the task submitted with it
local function dedupeKey(Q)
  return Q .. ':keys'
end

-- what claim.lua knows of the queue's right end (hash: n entries there hold no group nor
-- priority, and head, the entry at the right end when it learnt it)
local function plainKey(Q)
  return Q .. ':plain'
end
