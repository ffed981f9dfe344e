--[[
  lib/swarm-silence.lua: after a silence of the whole swarm (Redis down, or cut off from every
  worker and monitor), requeues are held for one taskTimeout (the grace key), once per silence,
  so that every worker gets to heartbeat before a monitor judges anyone stale: far more likely
  an outage than every worker dying at once.

  The swarm was silent when every worker is overdue (the one with the latest overdue time in
  workerSeen missed three heartbeats) and Redis saw no heartbeat and no sweep for over
  taskTimeout / 2 (the outage hash's `seen`, written at each). Overdue workers alone are not
  a silence: a live worker held up (its event loop blocked by a task function, a long GC) while
  the monitors sweep on is late, not cut off, and each such stall holding requeues anew kept a
  dead worker's tasks RUNNING for as long as the live one stalled once per taskTimeout.
  Nor is a monitor's own spacing: once every worker has died, its sweeps are all Redis sees, and
  a monitor sweeps at least every taskTimeout / 4 whatever its checkTaskInterval
  (machines/monitor.ts, sweepDelay), so that a gap over taskTimeout / 2 means Redis was away
  from it too.

  noteSeen(K, now, timeout) with K = { workerSeen, grace, outage } (key names); timeout = the
  monitors' taskTimeout (a monitor's sweep), or nil to read it from the outage hash (a worker's
  heartbeat; none there: no monitor has told it yet, and nothing is held). Returns the timeout.
]]

local function noteSeen(K, now, timeout)
  local o = redis.call('HMGET', K.outage, 'silence', 'seen', 'timeout')
  timeout = timeout or tonumber(o[3])
  if timeout then
    local seen = tonumber(o[2])
    local last = redis.call('ZRANGE', K.workerSeen, -1, -1, 'WITHSCORES')
    if last[2] and now > tonumber(last[2]) and o[1] ~= last[2] and not (seen and now - seen <= timeout / 2) then
      redis.call('HSET', K.outage, 'silence', last[2])
      redis.call('SET', K.grace, now, 'PX', timeout)
    end
  end
  redis.call('HSET', K.outage, 'seen', now)
  return timeout
end
