--[[
  wake.lua: wake idle workers (they block on the queue while it is empty) without a task: a
  worker that starts serving a function calls it, so tasks that waited for one are claimed at
  once. Pushes the wake marker only into an empty queue (lib/limits.lua: at most one is queued).

  KEYS[1] newQueue (Q)

  Returns 1.
]]
--@include lib/limits.lua

wake(KEYS[1])
return 1
