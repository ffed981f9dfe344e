--[[
  lib/history.lua: a task's `history`, a JSON array with one object per attempt that ended
  without ending the task: { attempt, worker, start, end, outcome, error?, reason? } (outcome
  'failed' for a retried throw or timeout, 'died' for a worker that died). The attempt that ends
  the task is not written here: its fields are the hash's own (attempt, worker, start, end,
  outcome, error), and Client.get adds it, so a task's last (most often only) attempt costs the
  END nothing.

  Appended as text, so a stored error (JSON text) is kept as it is (cjson would turn [] into {}).
  A history edited by hand into something that is not an array starts again.
]]

local function historyWith(old, entry)
  if old then
    local ok, list = pcall(cjson.decode, old)
    if ok and type(list) == 'table' then
      local body = string.match(old, '^%s*%[(.-)%]%s*$')
      if body and string.find(body, '%S') then return '[' .. body .. ',' .. entry .. ']' end
    end
  end
  return '[' .. entry .. ']'
end

-- one attempt's entry; start and attempt as read from the hash (junk is written as null / 0)
local function attemptEntry(attempt, worker, start, endAt, outcome, errorJson, reason)
  local s = tonumber(start)
  local e = '{"attempt":' .. string.format('%d', tonumber(attempt) or 0)
    .. ',"worker":' .. cjson.encode(worker or '')
    .. ',"start":' .. (s and string.format('%d', s) or 'null')
    .. ',"end":' .. string.format('%d', endAt)
    .. ',"outcome":"' .. outcome .. '"'
  if errorJson then e = e .. ',"error":' .. errorJson end
  if reason then e = e .. ',"reason":' .. cjson.encode(reason) end
  return e .. '}'
end
