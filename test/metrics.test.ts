/**
 * The metrics of a worker and a monitor (docs/metrics.md), against a real Redis, read back by a
 * Prometheus parser that is not ours: what a worker counts and times after running real tasks,
 * the swarm's counts a monitor exports being the facts `task-swarm status` prints (the monitor
 * logged in as the shipped monitor ACL user), /metrics over HTTP, and two workers of one
 * process each counting in its own registry.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { aclRule } from '../src/acl.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionOf } from '../src/partitions.js';
import { Client, ConfigError, ListenError, Monitor, Worker, type WorkerOptions } from '../src/index.js';
import { SWARM_METRICS } from '../src/telemetry/metric-catalog.js';
import { runMain } from './helpers/cli.js';
import { readExposition, type Exposition } from './helpers/exposition.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function worker(options: WorkerOptions): Worker {
  const w = new Worker({ port: 0, heartbeatInterval: 100, fetchTaskInterval: 200, ...options });
  w.addTaskFunction('ok', async (t) => {
    await sleep((t.data as { ms?: number } | null)?.ms ?? 250);
    return 'ok';
  });
  w.addTaskFunction('boom', () => {
    throw new Error('boom');
  });
  w.addTaskFunction('flaky', (t) => {
    if (t.attempt === 1) throw new Error('first attempt fails');
    return t.attempt;
  });
  cleanup.push(() => w.stop());
  return w;
}

function client(redisOptions: Record<string, unknown>): Client {
  const c = new Client({ redis: redisOptions });
  cleanup.push(() => c.close());
  return c;
}

const scrape = async (w: { metrics(): Promise<string> }): Promise<Exposition> => readExposition(await w.metrics());

describe('a worker counts what it runs', () => {
  it('claims, ends by outcome and function, retries; pickup, run time, lease age, heartbeats; its state', async () => {
    const o = server.options();
    const w = worker({ redis: o, concurrency: 4 });
    await w.start();
    const c = client(o);
    const ids = [
      ...(await Promise.all([1, 2, 3].map(() => c.submit('ok', { ms: 250 })))),
      await c.submit('boom'),
      await c.submit('flaky', null, { attempts: 2 }),
      await c.submit('ok', { ms: 10 }, { id: 'chosen-id' }),
    ];
    for (const id of ids) await c.wait(id, { timeout: 10_000 });
    await until(async () => (await scrape(w)).value('task_swarm_worker_tasks_ended_total') === 6, 'the ENDs counted');
    const m = await scrape(w);

    expect(m.value('task_swarm_worker_tasks_claimed_total', { function: 'ok' })).toBe(4);
    expect(m.value('task_swarm_worker_tasks_claimed_total', { function: 'boom' })).toBe(1);
    expect(m.value('task_swarm_worker_tasks_claimed_total', { function: 'flaky' })).toBe(2); // two attempts, two claims
    expect(m.value('task_swarm_worker_tasks_ended_total', { function: 'ok', outcome: 'succeeded' })).toBe(4);
    expect(m.value('task_swarm_worker_tasks_ended_total', { function: 'boom', outcome: 'failed' })).toBe(1);
    expect(m.value('task_swarm_worker_tasks_ended_total', { function: 'flaky', outcome: 'succeeded' })).toBe(1);
    expect(m.value('task_swarm_worker_tasks_ended_total', { function: 'flaky', outcome: 'failed' })).toBe(0);
    expect(m.value('task_swarm_worker_tasks_retried_total', { function: 'flaky' })).toBe(1);
    expect(m.value('task_swarm_worker_tasks_abandoned_total')).toBe(0);
    expect(m.value('task_swarm_worker_fenced_writes_total')).toBe(0);

    // every run timed, by function: three of 250 ms, one of 10 ms
    expect(m.count('task_swarm_worker_run_seconds', { function: 'ok' })).toBe(4);
    expect(m.count('task_swarm_worker_run_seconds', { function: 'flaky' })).toBe(2);
    const okRuns = m.samples('task_swarm_worker_run_seconds', { function: 'ok' })[0]!;
    expect(Number(okRuns.sum)).toBeGreaterThanOrEqual(0.75);
    expect(Number(okRuns.buckets!['0.1'])).toBe(1);
    // pickup: the first claim of each task submitted with a generated id (not flaky's second,
    // not the task with a chosen id, whose entry must stay the same submission after submit)
    expect(m.count('task_swarm_worker_pickup_latency_seconds', { function: 'ok' })).toBe(3);
    expect(m.count('task_swarm_worker_pickup_latency_seconds', { function: 'flaky' })).toBe(1);
    expect(Number(m.samples('task_swarm_worker_pickup_latency_seconds', { function: 'ok' })[0]!.sum)).toBeLessThan(3);
    expect(JSON.parse((await redis.hget(`${o.keyPrefix}task-chosen-id`, 'data'))!)).not.toHaveProperty('queued_at');
    expect(JSON.parse((await redis.hget(`${o.keyPrefix}task-${ids[0]}`, 'data'))!).queued_at).toEqual(expect.any(Number));

    // heartbeats every 100 ms renewed the 250 ms tasks' leases: young leases, quick round trips
    expect(m.count('task_swarm_worker_lease_age_seconds')).toBeGreaterThan(0);
    expect(Number(m.samples('task_swarm_worker_lease_age_seconds')[0]!.buckets!['1'])).toBe(m.count('task_swarm_worker_lease_age_seconds'));
    expect(m.count('task_swarm_worker_redis_roundtrip_seconds')).toBeGreaterThan(0);
    expect(m.value('task_swarm_worker_heartbeat_lag_seconds')).toBeGreaterThan(0);
    expect(m.value('task_swarm_worker_heartbeat_lag_seconds')).toBeLessThan(1);

    // one state at 1, every other state of the machine listed at 0
    const states = m.samples('task_swarm_worker_machine_state');
    expect(states.map((s) => s.labels!.state)).toEqual(expect.arrayContaining(['starting', 'connected.waiting', 'redisDown', 'partitioned', 'halted']));
    expect(states.filter((s) => s.value === 1).map((s) => s.labels!.state)).toEqual([expect.stringMatching(/^connected\./)]);
    expect(m.value('task_swarm_worker_info', { address: w.address })).toBe(1);
    expect(m.value('task_swarm_worker_concurrency')).toBe(4);
  });

  it("counts a retry whose next attempt comes back with its END (no backoff: one script writes the retry and claims it again) as retried, not abandoned", async () => {
    const o = server.options();
    const w = worker({ redis: o, concurrency: 1 });
    await w.start();
    const c = client(o);
    const ids = await Promise.all(Array.from({ length: 10 }, () => c.submit('flaky', null, { attempts: 2 })));
    for (const id of ids) expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', attempt: 2 });
    await until(async () => (await scrape(w)).value('task_swarm_worker_tasks_ended_total') === 10, 'the ENDs counted');
    const m = await scrape(w);
    expect(m.value('task_swarm_worker_tasks_retried_total', { function: 'flaky' })).toBe(10);
    expect(m.value('task_swarm_worker_tasks_claimed_total', { function: 'flaky' })).toBe(20);
    expect(m.value('task_swarm_worker_tasks_abandoned_total')).toBe(0);
    expect(m.value('task_swarm_worker_fenced_writes_total')).toBe(0);
  });

  it('shows the tasks it holds and their machines while they run', async () => {
    const o = server.options();
    const w = worker({ redis: o });
    await w.start();
    const c = client(o);
    const id = await c.submit('ok', { ms: 1500 });
    await until(() => w.running.includes(id), 'the task running');
    const m = await scrape(w);
    expect(m.value('task_swarm_worker_tasks_running', { function: 'ok' })).toBe(1);
    expect(m.value('task_swarm_worker_task_machines', { state: 'RUNNING.working' })).toBe(1);
    await c.wait(id, { timeout: 5000 });
    await until(async () => (await scrape(w)).samples('task_swarm_worker_tasks_running').length === 0, 'nothing held');
  });

  it('counts a claim whose lease was taken as abandoned, its refused writes as fenced, and the claim as a duplicate run', async () => {
    const o = server.options();
    const w = worker({ redis: o });
    await w.start();
    const c = client(o);
    const id = await c.submit('ok', { ms: 2000 });
    await until(() => w.running.includes(id), 'the task running');
    // what a monitor's requeue and another worker's claim do to its hash: the lease is someone else's
    await redis.hset(`${o.keyPrefix}task-${id}`, 'lease', '99:elsewhere:1');
    await until(async () => (await scrape(w)).value('task_swarm_worker_tasks_abandoned_total', { function: 'ok' }) === 1, 'the claim abandoned');
    const m = await scrape(w);
    expect(m.value('task_swarm_worker_fenced_writes_total', { write: 'heartbeat' })).toBeGreaterThanOrEqual(1);
    expect(m.value('task_swarm_worker_duplicate_runs_total')).toBe(1);
    expect(m.value('task_swarm_worker_tasks_ended_total')).toBe(0);
  });
});

describe('a worker that loses Redis', () => {
  it('says so on /metrics, still served: its state, the heartbeat lag growing; and recovers', async () => {
    const w = worker({ redis: server.options(), metricsPort: 0, heartbeatInterval: 200 });
    await w.start();
    const url = w.metricsUrl!;
    const read = async () => readExposition(await (await fetch(url)).text());
    server.freeze(); // every connection open, nothing answers: as a network partition from Redis
    cleanup.push(async () => server.thaw());
    // alone, it reaches all the peers it knows (none): Redis is down for everyone, not it cut off
    const down = await until(async () => ((await read()).value('task_swarm_worker_machine_state', { state: 'redisDown' }) === 1 ? read() : undefined), 'the worker in redisDown', 15_000);
    expect(down.value('task_swarm_worker_heartbeat_lag_seconds')).toBeGreaterThan(1);
    expect(down.samples('task_swarm_worker_machine_state').filter((s) => s.value === 1)).toHaveLength(1);
    server.thaw();
    await until(async () => (await read()).value('task_swarm_worker_heartbeat_lag_seconds') < 1, 'heartbeats again', 15_000);
    expect((await read()).samples('task_swarm_worker_machine_state').find((s) => s.value === 1)?.labels.state).toMatch(/^connected\.|^reconciling$/);
  });
});

describe('a monitor exports the swarm as `task-swarm status` reads it', () => {
  it('the same facts, from /metrics, with the monitor logged in as the shipped monitor ACL user', async () => {
    const o = server.options();
    // the monitor's ACL user for this swarm's names
    const rule = aclRule('monitor', resolveRedisConfig(o));
    await redis.call('ACL', 'SETUSER', `monitor-${o.keyPrefix}`, ...rule.split(' '), '>monitor-pw');
    const monitor = new Monitor({ redis: { ...o, username: `monitor-${o.keyPrefix}`, password: 'monitor-pw' }, metricsPort: 0, checkTaskInterval: 200 });
    cleanup.push(() => monitor.stop());
    await monitor.start();
    // one at a time: while it runs the long task below, it claims nothing (entries stay unrouted)
    const w = worker({ redis: o, concurrency: 1, stopGrace: 0, abortTimeout: 100 });
    await w.start();
    const c = client(o);

    // parked: entries a claim refuses, by reason
    await redis.lpush(`${o.keyPrefix}new-task`, 'not json', '{"id":"no-fn"}', '{"id":"bad-priority","function":"ok","priority":5000}');
    // a task whose hash is kept for manual cleanup
    await c.wait(await c.submit('ok', { ms: 1 }, { manualEnd: true }), { timeout: 5000 });
    // a task the worker runs while the comparison is made
    const long = await c.submit('ok', { ms: 20_000 });
    await until(() => w.running.includes(long), 'the long task running');
    await until(async () => (await c.stats()).dead === 3, 'three dead letters');
    await until(async () => (await c.stats()).ended === 1, 'the manual_end task listed in end-task');
    // waiting: placed in the queue of a function no worker serves, delayed, paused, not routed yet
    await c.submit('nobody', 1, { group: 'g' });
    await c.submit('nobody', 2, { priority: 3 });
    await c.submit('later', null, { delay: 60_000 });
    await c.pause('held');
    await c.submit('unrouted', 1);
    await c.submit('unrouted', 2);

    const { code, stdout } = await runMain(['status', '--json', '--key-prefix', o.keyPrefix], { REDIS_URL: server.url });
    expect(code).toBe(0);
    const status = JSON.parse(stdout) as Awaited<ReturnType<Client['stats']>>;
    const res = await fetch(monitor.metricsUrl!);
    expect(res.status).toBe(200);
    const m = readExposition(await res.text());
    const wm = await scrape(w);

    const functions = Object.fromEntries(
      [...new Set([...m.samples('task_swarm_queue_depth'), ...m.samples('task_swarm_function_workers'), ...wm.samples('task_swarm_worker_tasks_running')].map((s) => s.labels!.function!))].map((fn) => [
        fn,
        {
          queued: m.value('task_swarm_queue_depth', { function: fn }),
          running: wm.value('task_swarm_worker_tasks_running', { function: fn }),
          delayed: m.value('task_swarm_queue_delayed', { function: fn }),
          workers: m.value('task_swarm_function_workers', { function: fn }),
          paused: m.value('task_swarm_paused', { function: fn }) === 1,
        },
      ]),
    );
    const fromMetrics = {
      queued: m.value('task_swarm_queue_entries'),
      tasks: m.value('task_swarm_tasks_claimed'),
      workers: m.value('task_swarm_workers'),
      dead: m.value('task_swarm_dead_letters'),
      ended: m.value('task_swarm_ended_manual'),
      paused: m.value('task_swarm_paused', { function: '*' }) === 1,
      functions,
    };
    expect(fromMetrics).toEqual(status);
    // and the facts themselves, so that the comparison is not of two empty lists
    expect(status).toMatchObject({ queued: 2, workers: 1, dead: 3, ended: 1, paused: false });
    expect(status.functions).toMatchObject({
      nobody: { queued: 2, workers: 0 },
      later: { delayed: 1 },
      held: { paused: true },
      ok: { running: 1, workers: 1, paused: false },
    });
    // and an operator who looks for a metric's count in the text of `status` finds it under the
    // name the metric's help and docs/metrics.md give ('queued' was the JSON's key, not a word of the text)
    const text = await runMain(['status', '--key-prefix', o.keyPrefix], { REDIS_URL: server.url });
    const top = text.stdout.split('\n')[0]!;
    const named = Object.values(SWARM_METRICS).flatMap((d) => (!('labels' in d) && /\(status: ((?:[^;()]|\([^)]*\))+)/.exec(d.help)?.[1]) || []);
    expect(named.length).toBeGreaterThanOrEqual(5);
    const doc = readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([^`]+)` \| `task_swarm_[a-z_]+` \|$/gm)].map((r) => r[1]!);
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const name of [...named, ...rows]) expect(top, name).toContain(`${name} `);
    expect(top).toContain('incoming 2 ');
    expect(m.value('task_swarm_dead_letters_parked_total', { reason: 'bad_json' })).toBe(1);
    expect(m.value('task_swarm_dead_letters_parked_total', { reason: 'missing_function' })).toBe(1);
    expect(m.value('task_swarm_dead_letters_parked_total', { reason: 'bad_option' })).toBe(1);
    expect(m.value('task_swarm_lease_oldest_age_seconds')).toBeLessThan(5);
    expect(m.value('task_swarm_monitor_swarm_read_failures_total')).toBe(0);
    expect(m.value('task_swarm_monitor_machine_state', { state: 'active.idle' }) + m.value('task_swarm_monitor_machine_state', { state: 'active.sweeping' })).toBe(1);
    expect(m.count('task_swarm_monitor_sweep_seconds')).toBeGreaterThan(0);
    expect(m.value('task_swarm_monitor_task_timeout_seconds')).toBe(30);

    // stopped with the long task still running: handed back to the queue, and counted so
    await w.stop();
    expect((await scrape(w)).value('task_swarm_worker_tasks_requeued_total', { reason: 'stop_grace' })).toBe(1);
  });

  it('leaves the swarm out, and counts nothing as failed, while it is not connected', async () => {
    const monitor = new Monitor({ redis: server.options() });
    const m = readExposition(await monitor.metrics());
    expect(m.samples('task_swarm_queue_entries')).toEqual([]);
    expect(m.names.has('task_swarm_queue_depth')).toBe(true);
    expect(m.value('task_swarm_monitor_swarm_read_failures_total')).toBe(0);
    expect(m.value('task_swarm_monitor_machine_state')).toBe(0);
  });
});

describe('a swarm in partitions (redis.partitions)', () => {
  it('a monitor sums the partitions as status does, and a worker counts its claims in all of them', async () => {
    const o = { port: server.port, keyPrefix: `{metrics-${Date.now()}}:`, partitions: 3 };
    const monitor = new Monitor({ redis: o, checkTaskInterval: 200 });
    cleanup.push(() => monitor.stop());
    await monitor.start();
    const w = worker({ redis: o, concurrency: 8 });
    await w.start();
    const c = client(o);
    const ran = await Promise.all(Array.from({ length: 12 }, () => c.submit('ok', { ms: 1 })));
    for (const id of ran) await c.wait(id, { timeout: 10_000 });
    const waiting = await Promise.all(Array.from({ length: 9 }, (_, i) => c.submit('nobody', i, { group: `g${i}` })));
    await Promise.all(Array.from({ length: 5 }, () => c.submit('later', null, { delay: 60_000 })));
    // the tasks are spread: every partition holds some
    expect(new Set(waiting.map((id) => partitionOf(id, 3))).size).toBe(3);

    // (the monitor cleans up the ended ones: compared once it has, so that no sweep runs between the two reads)
    await until(async () => (await c.stats()).tasks === 0, 'the ended tasks cleaned up');
    const status = await c.stats();
    const m = readExposition(await monitor.metrics());
    expect(m.value('task_swarm_queue_depth', { function: 'nobody' })).toBe(9);
    expect(m.value('task_swarm_queue_delayed', { function: 'later' })).toBe(5);
    expect(m.value('task_swarm_queue_depth', { function: 'nobody' })).toBe(status.functions.nobody!.queued);
    expect(m.value('task_swarm_queue_delayed', { function: 'later' })).toBe(status.functions.later!.delayed);
    expect(m.value('task_swarm_function_workers', { function: 'ok' })).toBe(status.functions.ok!.workers);
    expect(m.value('task_swarm_workers')).toBe(status.workers);
    expect(m.value('task_swarm_tasks_claimed')).toBe(status.tasks);
    expect(m.value('task_swarm_queue_entries')).toBe(status.queued);
    expect((await scrape(w)).value('task_swarm_worker_tasks_claimed_total', { function: 'ok' })).toBe(12);
  });
});

describe('/metrics over HTTP', () => {
  it('is served on metricsPort while the worker runs, and only /metrics', async () => {
    const w = worker({ redis: server.options(), metricsPort: 0 });
    expect(w.metricsUrl).toBeUndefined();
    await w.start();
    const url = w.metricsUrl!;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
    expect(readExposition(await res.text()).names).toContain('task_swarm_worker_tasks_claimed_total');
    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    await w.stop();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('refuses a port in use with a ListenError, and a bad host with a ConfigError', async () => {
    const first = worker({ redis: server.options(), metricsPort: 0 });
    await first.start();
    const port = Number(new URL(first.metricsUrl!).port);
    const second = worker({ redis: server.options(), metricsPort: port });
    await expect(second.start()).rejects.toThrow(ListenError);
    expect(() => new Worker({ metricsHost: 'not a host' })).toThrow(ConfigError);
    expect(() => new Monitor({ metricsPort: 70_000 })).toThrow(ConfigError);
  });
});

describe('two workers in one process', () => {
  it('count apart, each in its own registry, and a worker and a monitor can share one endpoint', async () => {
    const o = server.options();
    const a = worker({ redis: o, concurrency: 1 });
    const b = worker({ redis: o, concurrency: 1 });
    await a.start();
    await b.start();
    expect(a.metricsRegistry).not.toBe(b.metricsRegistry);
    const c = client(o);
    const ids = await Promise.all([1, 2, 3, 4, 5, 6].map(() => c.submit('ok', { ms: 200 })));
    for (const id of ids) await c.wait(id, { timeout: 10_000 });
    await sleep(100);
    const [ma, mb] = [await scrape(a), await scrape(b)];
    const claimedA = ma.value('task_swarm_worker_tasks_claimed_total');
    const claimedB = mb.value('task_swarm_worker_tasks_claimed_total');
    expect(claimedA + claimedB).toBe(6);
    expect(claimedA).toBeGreaterThan(0);
    expect(claimedB).toBeGreaterThan(0);
    expect(ma.value('task_swarm_worker_info', { address: a.address })).toBe(1);
    expect(mb.value('task_swarm_worker_info', { address: b.address })).toBe(1);

    const monitor = new Monitor({ redis: o });
    const merged = Registry.merge([a.metricsRegistry, monitor.metricsRegistry]);
    const m = readExposition(await merged.metrics());
    expect(m.value('task_swarm_worker_tasks_claimed_total')).toBe(claimedA);
    expect(m.names).toContain('task_swarm_monitor_tasks_requeued_total');
  });
});
