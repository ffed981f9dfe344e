--[[
  lib/event.lua: the JSON of a task event, {"event","data","at"}, as subscribers receive it.
  `dataJson` is JSON text already (a stored result or error is spliced in as it is).
]]
local function eventJson(name, dataJson, now)
  return '{"event":"' .. name .. '","data":' .. dataJson .. ',"at":' .. string.format('%d', now) .. '}'
end
