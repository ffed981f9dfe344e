--[[
  finish.lua: end one or more tasks, each fenced by its lease. Marks the hash END with how it
  ended, stores the result or error, drops it from the lease index, queues it for the
  monitor's cleanup and publishes the final `end` event ({id, outcome, result or error, attempt,
  worker}), all at once so a subscriber can never miss the end. A worker ends every task that
  settled in the same tick with one call.

  An attempt that failed with attempts left is not an end: outcome `retry:<ms>` makes the task
  DELAYED (reason retry) until <ms> from now on Redis's clock, in Q:delayed (lib/delayed.lua),
  its error kept, the attempt added to its history (lib/history.lua), and publishes `retrying`
  {id, attempt, error, runAt}. A claim promotes it when due, at the place it had. When it is the
  earliest due, idle workers are woken (a marker), so that their next wait ends when it is due.

  A task cancelled or told to stop while it ran (`cancelling`, cancel.lua) is not
  retried: it ends `stopped`, answered 2.

  The task's limits are released (lib/limits.lua), and its dedupe key, if any, freed.

  KEYS[1] leases (zset)   KEYS[2] ended (list)   KEYS[3] newQueue (Q, lib/names.lua)
  KEYS[4] taskSet
  ARGV[1] task key prefix (a task's hash is the prefix and its id, its events channel that and
  `-events`), then four per task: task id, lease, outcome (succeeded|failed|stopped|retry:<ms>),
  result or error as JSON

  Returns, per task: 1 when written (or already written by this lease: a retry after a timeout
  whose first try did reach Redis), 2 when written as the task's end (`stopped`) where a retry
  was asked (the `cancelling` mark), 0 when fenced (the lease is not ours, or not RUNNING), or
  Redis's error (a string) when a key this END would write is of another type (written by
  hand): nothing of it written, the other ENDs of the call are not held back by it.
]]
--@include lib/finish-tasks.lua

return finishTasks(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], ARGV, 2, #ARGV)
