--[[
  lib/slice.lua: slice(t, from, to) is t[from..to] as a new array (to defaults to #t). One
  `unpack`, a C call, where a loop runs several VM instructions per element; a loop when the
  slice would not fit Lua's C stack (unpack raises past about 8,000 values).
]]
local SLICE_UNPACK_MAX = 4000

local function slice(t, from, to)
  to = to or #t
  if to - from < SLICE_UNPACK_MAX then return { unpack(t, from, to) } end
  local out = {}
  for i = from, to do out[#out + 1] = t[i] end
  return out
end
