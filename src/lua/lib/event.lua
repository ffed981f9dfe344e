--[[
  lib/event.lua: the runtime's events on a task's channel, as subscribers receive them
  (src/wire.ts parseEvent reads them; a task's own, emit.lua, the worker formats with
  formatEvent): {"event":<name>,"data":{"id":<id>,...},"at":<ms>}. Every script publishes
  them here, so they are built one way. Each but `end` is also the task's last event, kept in its
  hash as `last_event` (its name and time, without its data), as emit.lua keeps a task's own (an
  ended task's last event is its end, told by its state and end time: src/wire.ts lastEventOf); the channel is the task's key and '-events' (src/keys.ts),
  and every caller has just written that hash.

  publishEvent(channel, name, id, now, ...): `data` is {"id":<id>} then, in order, the fields
  given after `now` as pairs (name, value as JSON text: a number, or a string already JSON).
  publishRequeued(channel, id, attempt, worker, reason, now): `requeued`
  {id, attempt, worker, reason}, by a monitor (requeue.lua) or a worker handing back.
]]
--@include lib/now.lua

local function publishEvent(channel, name, id, now, ...)
  local parts = { '{"event":"', name, '","data":{"id":', cjson.encode(id) }
  for i = 1, select('#', ...), 2 do
    local field, json = select(i, ...)
    parts[#parts + 1] = ',"'
    parts[#parts + 1] = field
    parts[#parts + 1] = '":'
    parts[#parts + 1] = json
  end
  parts[#parts + 1] = '},"at":'
  parts[#parts + 1] = msText(now)
  parts[#parts + 1] = '}'
  redis.call('PUBLISH', channel, table.concat(parts))
  -- (not an end: the hash's state and end time say it, read as the last event by src/wire.ts
  -- lastEventOf, and every task ends, so this spares an HSET on every task's path)
  if name ~= 'end' then
    redis.call('HSET', string.sub(channel, 1, -8), 'last_event', '{"event":"' .. name .. '","at":' .. msText(now) .. '}')
  end
end

local function publishRequeued(channel, id, attempt, worker, reason, now)
  publishEvent(channel, 'requeued', id, now, 'attempt', attempt, 'worker', cjson.encode(worker), 'reason', cjson.encode(reason))
end
