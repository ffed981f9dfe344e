/**
 * Schedules across a Redis restart from an AOF that lost the last firing (its mark, the due time
 * moved on, and the task it queued: one script, so lost together), while a worker runs that
 * tick's task. What happens is what docs/semantics.md ("Schedules") says:
 *
 * - Redis went back to before any worker saw it (its data epoch is gone): the worker re-asserts
 *   its task during the monitors' grace, the monitor then finds the tick's task (its id is made
 *   of the name and the tick) and does not queue it again. The task runs once.
 * - Redis went back to a point the worker had seen (the epoch survived): the worker cannot tell
 *   a lost write from a clean-up, gives its copy up (aborted), and the monitor fires the tick
 *   again: the tick's task starts twice, the first copy aborted. The documented limit.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Monitor, type FiringResult } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown>)[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function setup() {
  const server = await startRedis({ appendonly: true });
  cleanup.push(() => server.stop());
  const o = server.options();
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { server, o, c };
}

async function startMonitor(o: object) {
  const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 250, logger: silent });
  const firings: FiringResult['firings'] = [];
  m.on('schedules', (r: FiringResult) => firings.push(...r.firings));
  await m.start();
  cleanup.push(() => m.stop());
  return firings;
}

async function worker(o: object) {
  const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100 }, [], ['nap']);
  cleanup.push(() => w.kill());
  return w;
}

/** the AOF as it is now, and later back to it with Redis SIGKILLed and restarted */
function snapshot(server: RedisServer): () => Promise<void> {
  const aof = join(server.dir!, 'appendonlydir');
  const copy = join(server.dir!, 'aof-copy');
  cpSync(aof, copy, { recursive: true });
  return async () => {
    await server.kill('SIGKILL');
    rmSync(aof, { recursive: true, force: true });
    cpSync(copy, aof, { recursive: true });
    await server.start();
  };
}

afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe('schedules across a Redis restart that lost the last firing', () => {
  it('Redis back to before any worker saw it: the worker re-asserts the task and the tick is not fired twice', async () => {
    const { server, o, c } = await setup();
    const every = 3000;
    await c.schedule('r', { every }, 'nap', { ms: 2500 });
    await sleep(50);
    const restore = snapshot(server); // the schedule, its first tick due; no worker seen yet
    const firings = await startMonitor(o);
    const w = await worker(o);
    await until(() => firings.length >= 1, 'the first firing', 8000);
    const [first] = firings;
    expect(first).toMatchObject({ outcome: 'fired' });
    await w.waitFor(new RegExp(`^STARTED ${esc(first!.id)} `), 5000);

    await restore();
    expect(await server.client().zscore(`${o.keyPrefix}new-task:schedules:due`, 'r')).toBe(String(first!.tick));

    const again = await until(() => firings.find((f) => f.tick === first!.tick && f !== first), 'the tick tried again', 8000);
    expect(again).toMatchObject({ outcome: 'duplicate', id: first!.id });
    const t = await c.wait(first!.id, { timeout: 8000 });
    expect(t.outcome).toBe('succeeded');
    expect(w.lines.filter((l) => l.startsWith(`STARTED ${first!.id} `))).toHaveLength(1);
    expect(w.lines.filter((l) => l.startsWith('WARN lease lost'))).toEqual([]);
    // and the next tick fires as usual
    await until(() => firings.find((f) => f.outcome === 'fired' && f.tick === first!.tick + every), 'the next tick', 8000);
  }, 30_000);

  it('Redis back to a point the worker had seen: the worker gives its copy up and the tick fires again (the documented limit)', async () => {
    const { server, o, c } = await setup();
    const every = 3000;
    const w = await worker(o);
    await c.schedule('r', { every }, 'nap', { ms: 2500 });
    await sleep(50);
    const restore = snapshot(server); // the worker is registered: its epoch is in this AOF
    const firings = await startMonitor(o);
    await until(() => firings.length >= 1, 'the first firing', 8000);
    const [first] = firings;
    await w.waitFor(new RegExp(`^STARTED ${esc(first!.id)} `), 5000);

    await restore();
    await w.waitFor(new RegExp(`^WARN lease lost for ${esc(first!.id)}: `), 8000);
    const again = await until(() => firings.find((f) => f.tick === first!.tick && f !== first), 'the tick fired again', 8000);
    expect(again).toMatchObject({ outcome: 'fired', id: first!.id });
    const t = await c.wait(first!.id, { timeout: 8000 });
    expect(t.outcome).toBe('succeeded');
    expect(w.lines.filter((l) => l.startsWith(`STARTED ${first!.id} `))).toHaveLength(2);
  }, 30_000);
});
