--[[
  emit.lua: publish task events, each fenced by its lease like every other write a worker makes
  about a task: an event goes out only while the task is RUNNING under that lease. A stale copy
  (a paused worker, one that kept its quorum while cut off, events buffered through an outage)
  can then never speak in the channel of a task someone else now runs, nor after its end.

  KEYS[1] the task set: not read; it names the swarm's slot, so that a Cluster runs the call on
          the node that holds the tasks (a call with no key goes to any node)
  ARGV, six per event: task key, lease, channel, message (the event's JSON), last: what the
        task's hash keeps as its last event (`last_event`, read by Client.get and the
        dashboard's task pages): '=' the message itself (the worker sends it only when small,
        src/wire.ts lastEventArg), other text that text (a large event's name and time), ''
        nothing (the runtime's machine-state events). Kept in this call, not another: one HSET
        of one bounded field per published event. It may grow memory at maxmemory (the script
        is allow-oom, so that events still go out): by one small field per running task, the
        same field overwritten by each later event. seq: the event's number in its claim
        (1, 2, ...): the hash keeps the last one published, with the claim's lease
        (`event_seq`), and an event at or below it is not published again: a batch sent again
        after its answer was lost (a frozen Redis ran it past the worker's timeout) published
        its events twice.

  Returns, per event: 1 published, 0 fenced (the task is another claim's, or not running),
  -1 the hash is missing (Redis lost its data; the worker re-asserts the task and goes on).
]]
--@include lib/fields.lua

local out = {}
for i = 1, #ARGV, 6 do
  local h = fields(ARGV[i], 'state', 'lease', 'event_seq')
  if not h then
    out[#out + 1] = 0 -- its key holds something else: not a task of ours
  elseif not h[1] then
    out[#out + 1] = -1
  elseif h[1] == 'RUNNING' and h[2] == ARGV[i + 1] then
    -- (published already by this claim: the batch sent again, its first sending run)
    local n, lease = string.match(h[3] or '', '^(%d+) (.*)$')
    local seq = tonumber(ARGV[i + 5])
    if not (lease == ARGV[i + 1] and seq and tonumber(n) >= seq) then
      redis.call('PUBLISH', ARGV[i + 2], ARGV[i + 3])
      local last = ARGV[i + 4]
      if last == '=' then last = ARGV[i + 3] end
      local mark = ARGV[i + 5] .. ' ' .. ARGV[i + 1]
      if last ~= '' then redis.call('HSET', ARGV[i], 'last_event', last, 'event_seq', mark) else redis.call('HSET', ARGV[i], 'event_seq', mark) end
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
