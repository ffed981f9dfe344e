--[[
  lib/call-state.lua: what a helper remembers within one call is forgotten before the next. The
  library's helpers are defined once, at load, and live across calls (src/scripts.ts); a helper
  that keeps state for a call (Redis's clock read once, the limits read once) registers how to
  forget it with onEachCall, and every function of the library calls beginCall first.
]]
local forgetters = {}
local function onEachCall(forget)
  forgetters[#forgetters + 1] = forget
end
local function beginCall()
  for i = 1, #forgetters do forgetters[i]() end
end
