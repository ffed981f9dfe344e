--[[
  emit.lua: publish task events, each fenced by its lease like every other write a worker makes
  about a task: an event goes out only while the task is RUNNING under that lease. A stale copy
  (a paused worker, one that kept its quorum while cut off, events buffered through an outage)
  can then never speak in the channel of a task someone else now runs, nor after its end.

  KEYS[1] the task set: not read; it names the swarm's slot, so that a Cluster runs the call on
          the node that holds the tasks (a call with no key goes to any node)
  ARGV, four per event: task key, lease, channel, message (the event's JSON)

  Returns, per event: 1 published, 0 fenced (the task is another claim's, or not running),
  -1 the hash is missing (Redis lost its data; the worker re-asserts the task and goes on).
]]
--@include lib/fields.lua

local out = {}
for i = 1, #ARGV, 4 do
  local h = fields(ARGV[i], 'state', 'lease')
  if not h then
    out[#out + 1] = 0 -- its key holds something else: not a task of ours
  elseif not h[1] then
    out[#out + 1] = -1
  elseif h[1] == 'RUNNING' and h[2] == ARGV[i + 1] then
    redis.call('PUBLISH', ARGV[i + 2], ARGV[i + 3])
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
