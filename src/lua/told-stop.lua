--[[
  told-stop.lua: a worker heard a stop on a running task's control channel, from any publisher
  (the seed's raw PUBLISH, another language's client; Client.control's cancel.lua marks the task
  as it publishes): the task is marked `cancelling`, as cancel.lua marks it, under the worker's
  claim. So the stop holds if the worker is cut off, frozen or killed before its END is written:
  a monitor ends the task `cancelled` (requeue.lua), a hand-back or a claim ends it so too, where
  it ran again elsewhere though told to stop; and a failed attempt racing the stop is not retried
  (finish.lua).

  KEYS[1] task key
  ARGV[1] lease: the claim that heard the stop (a later claim's run is not marked)

  Returns 1 marked (or marked before), 0 not running under that lease (nothing written).
]]
--@include lib/fields.lua

local h = fields(KEYS[1], 'state', 'lease')
if not h or h[1] ~= 'RUNNING' or h[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'cancelling', '1')
return 1
