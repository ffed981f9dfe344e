--[[
  lib/event.lua: the runtime's events on a task's channel, as subscribers receive them
  (src/wire.ts parseEvent reads them; a task's own, emit.lua, the worker formats with
  formatEvent): {"event":<name>,"data":{"id":<id>,...},"at":<ms>}. Every script publishes
  them here, so they are built one way. Each but `end` is also the task's last event, kept in its
  hash as `last_event` (its name and time, without its data), as emit.lua keeps a task's own (an
  ended task's last event is its end, told by its state and end time: src/wire.ts lastEventOf); the channel is the task's key and '-events' (src/keys.ts),
  and every caller has just written that hash.

  publishEvent(channel, name, id, now, ...): `data` is {"id":<id>} then, in order, the fields
  given after `now` as pairs (name, value as JSON text: a number, or a string already JSON), at
  most four.
  publishRequeued(channel, id, attempt, worker, reason, now): `requeued`
  {id, attempt, worker, reason}, by a monitor (requeue.lua) or a worker handing back.
]]
--@include lib/now.lua
--@include lib/fields.lua

-- s (a string) as JSON, kept for the strings said again and again (a worker's name): cjson makes
-- a buffer for each. Bounded: forgotten whole once it holds 256, and only strings of at most 256
-- bytes are kept (a worker's name read from a task's hash is whatever was written there, and
-- the memo lives in Lua's heap, which maxmemory does not count).
local jsonStrings, jsonStringsHeld = {}, 0 -- memo: a pure function's results, bounded
local function jsonString(s)
  if #s > 256 then return cjson.encode(s) end
  local j = jsonStrings[s]
  if not j then
    if jsonStringsHeld >= 256 then jsonStrings, jsonStringsHeld = {}, 0 end
    j = cjson.encode(s)
    jsonStrings[s] = j
    jsonStringsHeld = jsonStringsHeld + 1
  end
  return j
end

-- (the fields as parameters, not `...`, and each count of them its own single concatenation:
-- Lua makes one string of a chain of `..`, where a string per field, or a loop over `select`
-- filling a table for table.concat, made each event several times over)
local function publishEvent(channel, name, id, now, f1, v1, f2, v2, f3, v3, f4, v4, more)
  if more ~= nil then error('publishEvent: at most four fields') end
  local jid, at, msg = cjson.encode(id), msText(now), nil
  if f4 then
    msg = '{"event":"' .. name .. '","data":{"id":' .. jid .. ',"' .. f1 .. '":' .. v1 .. ',"' .. f2 .. '":' .. v2 .. ',"' .. f3 .. '":' .. v3 .. ',"' .. f4 .. '":' .. v4 .. '},"at":' .. at .. '}'
  elseif f3 then
    msg = '{"event":"' .. name .. '","data":{"id":' .. jid .. ',"' .. f1 .. '":' .. v1 .. ',"' .. f2 .. '":' .. v2 .. ',"' .. f3 .. '":' .. v3 .. '},"at":' .. at .. '}'
  elseif f2 then
    msg = '{"event":"' .. name .. '","data":{"id":' .. jid .. ',"' .. f1 .. '":' .. v1 .. ',"' .. f2 .. '":' .. v2 .. '},"at":' .. at .. '}'
  elseif f1 then
    msg = '{"event":"' .. name .. '","data":{"id":' .. jid .. ',"' .. f1 .. '":' .. v1 .. '},"at":' .. at .. '}'
  else
    msg = '{"event":"' .. name .. '","data":{"id":' .. jid .. '},"at":' .. at .. '}'
  end
  redis.call('PUBLISH', channel, msg)
  -- (not an end: the hash's state and end time say it, read as the last event by src/wire.ts
  -- lastEventOf, and every task ends, so this spares an HSET on every task's path)
  if name ~= 'end' then
    redis.call('HSET', string.sub(channel, 1, -8), 'last_event', '{"event":"' .. name .. '","at":' .. at .. '}')
  end
end

local function publishRequeued(channel, id, attempt, worker, reason, now)
  -- (an attempt edited into junk by hand is written 0, not as Lua prints it: `nan` is no JSON)
  publishEvent(channel, 'requeued', id, now, 'attempt', intText(attempt), 'worker', jsonString(worker), 'reason', cjson.encode(reason))
end
