--[[
  lib/judge.lua: what claim.lua does with one entry of the ingress, judged as JSON.parse judges
  it (lib/strict-json.lua), with a valid id (lib/task-id.lua), a function, and valid options
  (`priority`, an integer -1000..1000; `group`, a string of 1..128 bytes; `attempts`, `backoff`
  and `timeout` as submit has them, lib/time-options.lua). Nothing is written.

  judgeEntry(raw, maxBytes, queued) returns { bad = { reason, message, raw, id, extra } } for an
  entry to park (the dead letter's reason and message, what it keeps of the entry, its id when
  one can be read, and lib/park.lua's extra), else the task's fields:
  { raw, id, fn, priority, group ('' for none), manualEnd }. queued: the set of ids Client gave
  (an entry under one is Client's, read as lib/client-entry.lua says). take: as clientEntry's
  (the one write: a Client entry's id leaves `queued`, the entry then `unqueued`).
]]
--@include lib/quote.lua
--@include lib/task-id.lua
--@include lib/strict-json.lua
--@include lib/client-entry.lua
--@include lib/manual-end.lua
--@include lib/time-options.lua

-- The id of an entry too large to decode, when it starts with it, as Client writes entries.
local function leadingId(raw)
  local s = string.match(string.sub(raw, 1, 600), '^%s*{%s*"id"%s*:%s*"([^"\\]+)"')
  if s and #s <= MAX_ID_BYTES then return s end
end

-- the start of an entry, for a message
local function excerpt(raw)
  return string.sub(raw, 1, 80)
end

local function judgeEntry(raw, maxBytes, queued, take)
  if #raw > maxBytes then
    -- (only what the dead letter keeps of it is held until then)
    return { bad = { 'too_large', 'task entry is ' .. #raw .. ' bytes, over maxPayloadBytes ' .. maxBytes, string.sub(raw, 1, 4096), leadingId(raw), { truncate = true, size = #raw } } }
  end
  -- (Client's entry of the seed's kind: lib/client-entry.lua)
  local fast = clientEntry(raw, queued, take)
  if fast then return fast end
  local ok, task = pcall(cjson.decode, raw)
  -- cjson decodes arrays to tables too: only an object is a task.
  if not ok or type(task) ~= 'table' or not string.find(raw, '^%s*{') then
    -- (its id, when it starts with one as Client writes entries, as a too large entry's: a task
    -- Client took whose data nests deeper than cjson decodes then ends parked, or is dropped
    -- when cancelled, rather than stay queued for good; a hand-pushed one's id is information)
    return { bad = { 'bad_json', 'task entry is not a JSON object: ' .. excerpt(raw), raw, leadingId(raw) } }
  end
  -- An id in `queued` was given by Client.submit (or a schedule), which checked it and wrote the
  -- entry with JSON.stringify (cjson.encode): neither is checked again, a tenth of a claim's
  -- work per task. An entry pushed by hand under such an id is not judged strictly here; if it
  -- is not what JSON.parse reads, the worker that claims it parks it (park-claimed.lua).
  local fromClient = type(task.id) == 'string' and redis.call('SISMEMBER', queued, task.id) == 1
  local id, why
  if fromClient then id = task.id else id, why = taskId(task.id) end
  local fn = task['function']
  if type(fn) ~= 'string' or fn == '' then fn = nil end
  local priority, group = task.priority, task.group
  if priority == nil or priority == cjson.null then priority = 0 end
  -- no group is '' inside; a group written "" is no name (Client.submit refuses it too)
  if group == cjson.null then group = nil end
  local problem = not fromClient and jsonProblem(raw) or nil
  local timeProblem = id and not problem and fn and timeOptionProblem(task)
  if not id and why == 'missing' then
    return { bad = { 'missing_id', 'task entry has no "id" (string or integer): ' .. excerpt(raw), raw } }
  elseif not id then
    return { bad = { 'bad_id', 'task entry is refused: ' .. why, raw } }
  elseif problem then
    return { bad = { 'bad_json', 'task ' .. quoted(id) .. ' is not valid JSON: ' .. problem, raw, id, { fn = fn } } }
  elseif not fn then
    -- (one given as something else is not missing: said what it is, as the Client refuses it)
    local given = task['function']
    local what = (given == nil or given == cjson.null) and ' has no "function" name'
      or given == '' and ': "function" must be a non-empty string, got ""'
      or ': "function" must be a non-empty string, got ' .. (type(given) == 'table' and 'a list or an object' or 'a ' .. type(given))
    return { bad = { 'missing_function', 'task ' .. quoted(id) .. what, raw, id } }
  elseif type(priority) ~= 'number' or priority ~= math.floor(priority) or priority < -1000 or priority > 1000 then
    return { bad = { 'bad_option', 'task ' .. quoted(id) .. ': "priority" must be an integer from -1000 to 1000', raw, id, { fn = fn } } }
  elseif group ~= nil and (type(group) ~= 'string' or group == '' or #group > 128 or not validUtf8(group)) then
    return { bad = { 'bad_option', 'task ' .. quoted(id) .. ': "group" must be a string of 1 to 128 bytes (UTF-8)', raw, id, { fn = fn } } }
  elseif timeProblem then
    return { bad = { 'bad_option', 'task ' .. quoted(id) .. ': ' .. timeProblem, raw, id, { fn = fn } } }
  end
  return { raw = raw, id = id, fn = fn, priority = priority, group = group or '', manualEnd = wantsManualEnd(task) }
end
