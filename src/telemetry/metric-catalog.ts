/**
 * Every Prometheus metric a worker or a monitor exports: its name, type, labels, buckets and
 * meaning, in one place. The metrics are built from it (metric-set.ts) and docs/metrics.md's
 * table is rendered from it (`npm run docs`; test/docs.test.ts checks the two agree), so a metric
 * cannot exist undocumented.
 *
 * Names: `task_swarm_worker_*` are what one worker saw, `task_swarm_monitor_*` what one monitor
 * did, and the plain `task_swarm_*` gauges are the swarm's state, read from Redis by a monitor
 * when it is scraped (the facts of `task-swarm status`). The three families never share a name, so
 * a process running a worker and a monitor can merge their registries.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
  labels?: readonly string[];
  buckets?: readonly number[];
}

/** seconds, from a millisecond to an hour: how long a task waits or runs */
const TASK_SECONDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** seconds: a Redis call, from a local round trip to a call slow enough to fail a heartbeat */
const CALL_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const WORKER_METRICS = {
  info: { name: 'task_swarm_worker_info', type: 'gauge', help: 'always 1; `address` is the host:port peers and Redis know this worker by', labels: ['address'] },
  concurrency: { name: 'task_swarm_worker_concurrency', type: 'gauge', help: 'tasks this worker runs at once at most (its `concurrency`)' },
  claimed: { name: 'task_swarm_worker_tasks_claimed_total', type: 'counter', help: 'tasks claimed (each claim is an attempt)', labels: ['function'] },
  ended: { name: 'task_swarm_worker_tasks_ended_total', type: 'counter', help: 'tasks ended by this worker, END written: outcome succeeded, failed or stopped', labels: ['function', 'outcome'] },
  retried: { name: 'task_swarm_worker_tasks_retried_total', type: 'counter', help: 'attempts that failed with attempts left: the task waits its backoff, DELAYED, then runs again', labels: ['function'] },
  abandoned: { name: 'task_swarm_worker_tasks_abandoned_total', type: 'counter', help: 'claims left without an END: the lease was lost (the task was requeued) or the worker halted', labels: ['function'] },
  requeued: { name: 'task_swarm_worker_tasks_requeued_total', type: 'counter', help: 'tasks this worker gave back to the queue: `stop_grace` (still running when stop() ran out of stopGrace), `lost_reply` (taken by claims whose replies were lost), `aborted_claim` (claimed as the worker stopped waiting)', labels: ['reason'] },
  fenced: { name: 'task_swarm_worker_fenced_writes_total', type: 'counter', help: 'writes refused because the lease was no longer this claim\'s: `heartbeat`, `event` or `end`', labels: ['write'] },
  duplicateRuns: { name: 'task_swarm_worker_duplicate_runs_total', type: 'counter', help: 'claims this worker ran after their lease had passed on (found by a refused write): the task may have run twice' },
  eventsDropped: { name: 'task_swarm_worker_events_dropped_total', type: 'counter', help: 'task events dropped while Redis was unreachable (the eventBuffer was full)' },
  running: { name: 'task_swarm_worker_tasks_running', type: 'gauge', help: 'tasks this worker holds now (running, or writing their END)', labels: ['function'] },
  pickup: { name: 'task_swarm_worker_pickup_latency_seconds', type: 'histogram', help: 'from submit (or the due time of a delayed task) to its first claim, for tasks submitted through Client with a generated id; the producer\'s clock against Redis\'s', labels: ['function'], buckets: TASK_SECONDS },
  runTime: { name: 'task_swarm_worker_run_seconds', type: 'histogram', help: 'how long each run of a task function took, to its return or throw', labels: ['function'], buckets: TASK_SECONDS },
  leaseAge: { name: 'task_swarm_worker_lease_age_seconds', type: 'histogram', help: 'age of each lease as a heartbeat renews it: since its claim or its last renewal (a monitor requeues a task whose lease reaches taskTimeout)', buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 15, 20, 30, 60, 120] },
  heartbeatLag: { name: 'task_swarm_worker_heartbeat_lag_seconds', type: 'gauge', help: 'seconds since Redis last confirmed this worker\'s heartbeat (or since it started, before the first)' },
  redisRoundTrip: { name: 'task_swarm_worker_redis_roundtrip_seconds', type: 'histogram', help: 'duration of each heartbeat call to Redis (renew.lua: one round trip and the script)', buckets: CALL_SECONDS },
  state: { name: 'task_swarm_worker_machine_state', type: 'gauge', help: '1 for the state the worker machine is in (`connected.waiting`, `redisDown`, `halted`...), 0 for the others', labels: ['state'] },
  taskStates: { name: 'task_swarm_worker_task_machines', type: 'gauge', help: 'task machines by their state (`RUNNING.working`, `ending`...)', labels: ['state'] },
} as const satisfies Record<string, MetricDef>;

export const MONITOR_METRICS = {
  requeued: { name: 'task_swarm_monitor_tasks_requeued_total', type: 'counter', help: 'stale tasks (no heartbeat for taskTimeout) this monitor put back in the queue' },
  parked: { name: 'task_swarm_monitor_tasks_parked_total', type: 'counter', help: 'stale tasks this monitor parked instead (maxAttempts reached, or no entry left to queue); by reason: task_swarm_dead_letters_parked_total' },
  cleaned: { name: 'task_swarm_monitor_ended_cleaned_total', type: 'counter', help: 'ended tasks this monitor cleaned up (given their endRetention)' },
  pruned: { name: 'task_swarm_monitor_workers_pruned_total', type: 'counter', help: 'silent workers this monitor took out of the worker list' },
  behind: { name: 'task_swarm_monitor_sweeps_behind_total', type: 'counter', help: 'sweeps that ran out of their time budget with work left (the next starts at once)' },
  sweepTime: { name: 'task_swarm_monitor_sweep_seconds', type: 'histogram', help: 'duration of each sweep (requeue, cleanup, dead-letter retention)', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 5] },
  backlog: { name: 'task_swarm_monitor_sweep_backlog', type: 'gauge', help: 'ended tasks still waiting for cleanup after the last sweep' },
  hold: { name: 'task_swarm_monitor_requeue_hold_seconds', type: 'gauge', help: 'seconds left of a hold on requeues after the whole swarm went silent (an outage), as of the last sweep; 0 = none' },
  firings: { name: 'task_swarm_monitor_schedule_firings_total', type: 'counter', help: 'schedule ticks this monitor handled: fired, duplicate, skipped, dropped, failed (Redis refused the firing)', labels: ['outcome'] },
  taskTimeout: { name: 'task_swarm_monitor_task_timeout_seconds', type: 'gauge', help: 'this monitor\'s taskTimeout (for alert rules)' },
  redisRoundTrip: { name: 'task_swarm_monitor_redis_roundtrip_seconds', type: 'histogram', help: 'duration of each requeue call to Redis (requeue.lua: one round trip and the script)', buckets: CALL_SECONDS },
  readFailures: { name: 'task_swarm_monitor_swarm_read_failures_total', type: 'counter', help: 'scrapes whose read of the swarm\'s counts from Redis failed (the task_swarm_* gauges are then left out)' },
  state: { name: 'task_swarm_monitor_machine_state', type: 'gauge', help: '1 for the state the monitor machine is in (`active.idle`, `paused`, `grace.cleaning`...), 0 for the others', labels: ['state'] },
} as const satisfies Record<string, MetricDef>;

/**
 * one of the four counters of the dead-letter list's stats (fields `parked:<reason>`,
 * `dropped:<reason>`...), a series a reason: swarm-gauges.ts `deadStat` reads each by its key
 */
const deadLetterStat = (name: string, help: string) => ({ name, type: 'counter', help, labels: ['reason'] }) as const;

/** read from Redis when a monitor is scraped: what `task-swarm status` shows */
export const SWARM_METRICS = {
  entries: { name: 'task_swarm_queue_entries', type: 'gauge', help: 'entries on the new-task list not routed yet (status: incoming; its JSON: queued)' },
  depth: { name: 'task_swarm_queue_depth', type: 'gauge', help: 'tasks routed to a function\'s queue and waiting (status: a function\'s queued)', labels: ['function'] },
  delayed: { name: 'task_swarm_queue_delayed', type: 'gauge', help: 'tasks waiting for a time: a delay or a retry\'s backoff (status: delayed)', labels: ['function'] },
  claimed: { name: 'task_swarm_tasks_claimed', type: 'gauge', help: 'claimed tasks: running, or ended and awaiting cleanup (status: claimed)' },
  workers: { name: 'task_swarm_workers', type: 'gauge', help: 'workers in the worker list (status: workers)' },
  functionWorkers: { name: 'task_swarm_function_workers', type: 'gauge', help: 'live workers that serve a function (status: a function\'s workers)', labels: ['function'] },
  paused: { name: 'task_swarm_paused', type: 'gauge', help: '1 when claims are paused: for a function, or `*` for the whole swarm (status: paused)', labels: ['function'] },
  dead: { name: 'task_swarm_dead_letters', type: 'gauge', help: 'entries in the dead-letter list (status: dead)' },
  endedManual: { name: 'task_swarm_ended_manual', type: 'gauge', help: 'ended tasks kept for manual cleanup, in end-task (status: ended (manual_end))' },
  parked: deadLetterStat('task_swarm_dead_letters_parked_total', 'entries and tasks parked in the dead-letter list, by reason (bad_json, duplicate, max_attempts...)'),
  dropped: deadLetterStat('task_swarm_dead_letters_dropped_total', 'dead letters dropped by the retention (deadLetterMax, deadLetterRetention), by reason'),
  retried: deadLetterStat('task_swarm_dead_letters_retried_total', 'dead letters queued again (retry-dead), by reason'),
  purged: deadLetterStat('task_swarm_dead_letters_purged_total', 'dead letters deleted (purge-dead), by reason'),
  mayEvict: { name: 'task_swarm_redis_may_evict', type: 'gauge', help: '1 when the Redis that holds the swarm has a maxmemory-policy other than noeviction (a full Redis then drops tasks: docs/deployments.md, the server), else 0' },
  oldestLease: { name: 'task_swarm_lease_oldest_age_seconds', type: 'gauge', help: 'seconds since the stalest running task\'s last heartbeat (0 when none runs): past taskTimeout, nothing requeues it' },
} as const satisfies Record<string, MetricDef>;

/** docs/metrics.md's table of every metric */
export function metricsTable(): string {
  const rows = ['| metric | type | labels | exported by | meaning |', '|---|---|---|---|---|'];
  const add = (by: string, defs: Record<string, MetricDef>) => {
    for (const d of Object.values(defs)) {
      rows.push(`| \`${d.name}\` | ${d.type} | ${d.labels?.map((l) => `\`${l}\``).join(', ') || '—'} | ${by} | ${d.help.replace(/\|/g, '\\|')} |`);
    }
  };
  add('worker', WORKER_METRICS);
  add('monitor', MONITOR_METRICS);
  add('monitor (read from Redis at each scrape)', SWARM_METRICS);
  return rows.join('\n');
}
