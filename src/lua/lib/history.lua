--[[
  lib/history.lua: a task's `history`, a JSON array with one object per attempt that ended
  without ending the task: { attempt, worker, start, end, outcome, error?, reason? } (outcome
  'failed' for a retried throw or timeout, 'died' for a worker that died). The attempt that ends
  the task is not written here: its fields are the hash's own (attempt, worker, start, end,
  outcome, error), and Client.get adds it, so a task's last (most often only) attempt costs the
  END nothing.

  Appended as text, so a stored error (JSON text) is kept as it is (cjson would turn [] into {}).
  A history edited by hand into something that is not an array starts again.

  Bounded: past HISTORY_MAX_BYTES its oldest records are dropped, whole, as the new one is
  appended; their attempt numbers say which are left. Every END that retries rewrites the whole
  history in one step, Redis blocked meanwhile: a task of 1,000 attempts that threw errors of
  1 KiB made a history of about 1 MB, rewritten (and decoded) at each of its retries.
]]

local HISTORY_MAX_BYTES = 65536

local function historyWith(old, entry)
  if old then
    local ok, list = pcall(cjson.decode, old)
    if ok and type(list) == 'table' then
      local body = string.match(old, '^%s*%[(.-)%]%s*$')
      if body and string.find(body, '%S') then
        local over = #body + #entry + 3 - HISTORY_MAX_BYTES
        if over <= 0 then return '[' .. body .. ',' .. entry .. ']' end
        -- (from the first record that starts past the bytes to drop: the records this file
        -- writes start so, and a quote inside a string is escaped; one of another shape, edited
        -- by hand, is made sure of by decoding what is left)
        local cut = string.find(body, ',{"attempt":', over, true)
        if cut then
          local kept = '[' .. string.sub(body, cut + 1) .. ',' .. entry .. ']'
          if pcall(cjson.decode, kept) then return kept end
        end
      end
    end
  end
  return '[' .. entry .. ']'
end

-- the deaths a history records (its `died` records): how a hash written before `deaths` was
-- counted has them read (requeue.lua), and what a retry that drops records writes first
local function deathsIn(history)
  return select(2, string.gsub(history or '', '"outcome":"died"', ''))
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
