--[[
  lib/task-id.lua: what a task id is. Ids are strings on the wire: a non-empty string of at most
  512 bytes, or an integer that JSON carries exactly (|n| <= 2^53 - 1), written out in full
  digits (tostring would turn 123456789012345 into 1.2345678901234e+14, and two ids into one
  key). src/wire.ts parseEntry applies the same rule on the worker.

  taskId(v) returns the id as a string, or nil and why not ('missing' when there is none).
]]
local MAX_ID_BYTES = 512

local function taskId(v)
  if v == nil or v == cjson.null or v == '' then return nil, 'missing' end
  if type(v) == 'string' then
    if #v > MAX_ID_BYTES then return nil, 'its "id" is ' .. #v .. ' bytes long, over ' .. MAX_ID_BYTES end
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
