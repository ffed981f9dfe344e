--[[
  lib/task-id.lua: what a task id is. Ids are strings on the wire: a non-empty string of at most
  512 bytes, or an integer that JSON carries exactly (|n| <= 2^53 - 1), written out in full
  digits (tostring would turn 123456789012345 into 1.2345678901234e+14, and two ids into one
  key). A string id must be valid UTF-8: the worker reads every reply as UTF-8, so an id whose
  bytes are not would name one key in Redis and another in the worker. src/wire.ts parseEntry
  applies the same rule on the worker.

  taskId(v) returns the id as a string, or nil and why not ('missing' when there is none).
]]
local MAX_ID_BYTES = 512

-- strict UTF-8, as a decoder that replaces what is invalid reads it (no overlongs, no surrogates)
local function validUtf8(s)
  -- ASCII is UTF-8 (ids made by Client are): one scan in C instead of a loop in Lua
  if not string.find(s, '[\128-\255]') then return true end
  local i, n = 1, #s
  while i <= n do
    local c = string.byte(s, i)
    local len, lo, hi = 0, 0x80, 0xBF
    if c < 0x80 then len = 0
    elseif c >= 0xC2 and c <= 0xDF then len = 1
    elseif c >= 0xE0 and c <= 0xEF then
      len = 2
      if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F end
    elseif c >= 0xF0 and c <= 0xF4 then
      len = 3
      if c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
    else return false end
    for k = 1, len do
      local b = string.byte(s, i + k)
      if not b then return false end
      if k == 1 then
        if b < lo or b > hi then return false end
      elseif b < 0x80 or b > 0xBF then return false end
    end
    i = i + len + 1
  end
  return true
end

local function taskId(v)
  if v == nil or v == cjson.null or v == '' then return nil, 'missing' end
  if type(v) == 'string' then
    if #v > MAX_ID_BYTES then return nil, 'its "id" is ' .. #v .. ' bytes long, over ' .. MAX_ID_BYTES end
    if not validUtf8(v) then return nil, 'its "id" is not valid UTF-8' end
    return v
  end
  if type(v) == 'number' then
    if v ~= v or v ~= math.floor(v) or math.abs(v) > 9007199254740991 then
      return nil, 'its numeric "id" is not an integer JSON carries exactly (|id| <= 2^53 - 1); send such ids as strings'
    end
    return string.format('%d', v)
  end
  return nil, 'its "id" is neither a string nor an integer'
end
