/**
 * Names users choose are keys like any other, `__proto__` and `constructor` included. Counts
 * kept per function in plain objects (`counts[fn] ??= {...}`) found Object.prototype for a
 * function named `__proto__` and wrote into it: every object of the process that counted (a
 * monitor's metrics, Client.stats, the CLI's status, the dashboard) had a `queued` property
 * from then on, and prom-client, reading it as a label of every series, failed each worker and
 * monitor started after in that process. Found by the CLI fuzz test.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { createDashboard } from '../src/dashboard/server.js';
import { runMain } from './helpers/cli.js';
import { readExposition } from './helpers/exposition.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'];

describe('functions named like the properties of every object', () => {
  it('are counted as themselves, everywhere, and change no object of the process', async () => {
    const o = server.options();
    const before = Object.getOwnPropertyNames(Object.prototype).sort();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // one of each, run by a worker: each counted running under its name, then ended
    const ids = [];
    for (const fn of NAMES) ids.push(await c.submit(fn, { fn }));
    const w = new Worker({ port: 0, redis: o, concurrency: NAMES.length });
    const release: (() => void)[] = [];
    for (const fn of NAMES) w.addTaskFunction(fn, () => new Promise<string>((r) => release.push(() => r(fn))));
    cleanup.push(() => w.stop());
    await w.start();
    await until(() => release.length === NAMES.length, 'every task running');
    const running = await c.stats();
    for (const fn of NAMES) expect(running.functions[fn], fn).toMatchObject({ running: 1, workers: 1 });
    for (const r of release.splice(0)) r();
    for (const [i, id] of ids.entries()) expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: NAMES[i] });

    // two of each waiting for their time, counted under their own name
    for (const fn of NAMES) for (let i = 0; i < 2; i++) await c.submit(fn, { i }, { delay: 60_000 });
    const stats = await c.stats();
    expect(Object.keys(stats.functions).sort()).toEqual([...NAMES].sort());
    for (const fn of NAMES) expect(stats.functions[fn], fn).toMatchObject({ delayed: 2, workers: 1 });

    const m = new Monitor({ redis: o });
    cleanup.push(() => m.stop());
    await m.start();
    const metrics = readExposition(await m.metrics());
    for (const fn of NAMES) expect(metrics.value('task_swarm_queue_delayed', { function: fn }), fn).toBe(2);

    const status = await runMain(['--key-prefix', o.keyPrefix, 'status', '--json'], { REDIS_URL: server.url });
    expect(status.stderr).toBe('');
    expect(Object.keys((JSON.parse(status.stdout) as { functions: object }).functions).sort()).toEqual([...NAMES].sort());

    const d = createDashboard({ redis: o });
    const at = await d.listen(0);
    try {
      const overview = (await (await fetch(`${at}api/overview`)).json()) as { stats: { functions: Record<string, unknown> } };
      expect(Object.keys(overview.stats.functions).sort()).toEqual([...NAMES].sort());
    } finally {
      await d.close();
    }

    // nothing was written into Object.prototype, and what starts next in this process works
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(before);
    expect(({} as Record<string, unknown>).queued).toBeUndefined();
    const next = new Worker({ port: 0, redis: o });
    cleanup.push(() => next.stop());
    await next.start();
    expect(readExposition(await next.metrics()).value('task_swarm_worker_concurrency')).toBeGreaterThan(0);
  }, 60_000);
});
