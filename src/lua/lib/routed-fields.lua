--[[
  lib/routed-fields.lua: the fields of a routed entry's hash beside its state (claim.lua): its
  function, its place in its function's structure (lib/queue.lua: member and score), and what
  its entry asked for (group, priority, a manual end).

  routedFields(e, member, score) returns them as HSET's field-value list; e is a judged entry
  (lib/judge.lua). plainRouted(e) is true when that list is only `function`, `member` and
  `score`, in that order (the seed's entries: a caller may then write them without the list).
]]
--@include lib/now.lua

local function routedFields(e, member, score)
  local more = { 'function', e.fn, 'member', member, 'score', msText(score) }
  if e.group ~= '' then more[#more + 1] = 'group'; more[#more + 1] = e.group end
  if e.priority ~= 0 then more[#more + 1] = 'priority'; more[#more + 1] = e.priority end
  if e.manualEnd then more[#more + 1] = 'manual_end'; more[#more + 1] = '1' end
  return more
end

local function plainRouted(e)
  return e.group == '' and e.priority == 0 and not e.manualEnd
end
