--[[
  lib/manual-end.lua: does a task ask to be kept after its end (listed in end-task, hash kept)?
  The flag is read from the task JSON (`"manual_end": true`) or from inside its `data`, also when
  `data` is a JSON string (where the seed's monitor read it).
]]
local function wantsManualEnd(task)
  if task.manual_end == true then return true end
  local d = task.data
  if type(d) == 'string' then
    local ok, decoded = pcall(cjson.decode, d)
    if ok then d = decoded end
  end
  return type(d) == 'table' and d.manual_end == true
end
