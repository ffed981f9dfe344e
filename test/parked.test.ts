/**
 * A parked task ends in a state that says so (issue 7, item 8): its hash says END, outcome
 * failed, `parked` with the reason and the dead letter's key, whatever state it was in (queued
 * for the first time, or QUEUED again after a hand-back or a requeue); `get`, `wait` and the CLI
 * answer it; its id stays taken until it is retried or purged; and no retention the user did not
 * choose deletes it.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, DuplicateTaskError, Monitor, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { ageTask, claimAs, keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, REDIS_URL: server.url }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** a client and a worker with `functions`, on the key space `o` (a fresh one by default) */
async function swarm(functions: string[], o = server.options()) {
  const c = new Client({ redis: o });
  const w = new Worker({ port: 0, redis: o, logger: quiet });
  for (const f of functions) w.addTaskFunction(f, async (t) => t.data);
  cleanup.push(() => c.close(), () => w.stop());
  await w.start();
  return { o, c, w };
}

describe('a task for a function no live worker serves', () => {
  it('is not parked: `task-swarm submit <function> --wait` says it waits for a worker that serves it, and it runs when one comes', async () => {
    const { o, w } = await swarm(['echo']);
    const r = await cli(['submit', 'typo', '{"n":1}', '--id', 'typo-1', '--wait', '--wait-timeout', '1500', '--key-prefix', o.keyPrefix]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no live worker serves function "typo"');
    expect(r.stderr).toMatch(/did not end within 1500 ms/);
    w.addTaskFunction('typo', async (t) => t.data);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    expect(await c.wait('typo-1', { timeout: 5000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: { n: 1 } });
  });
});

describe('a parked task', () => {
  it('that was QUEUED again (requeued) ends END when it is parked, its id stays taken, and retried by key it runs', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('f', { n: 1 });
    const m = new Monitor({ redis: o, maxAttempts: 2, checkTaskInterval: 50, taskTimeout: 1000, logger: quiet });
    cleanup.push(() => m.stop());
    await m.start();
    // claimed by a worker that dies, twice: requeued (QUEUED) once, then parked
    for (const attempt of [1, 2]) {
      const [claimed] = (await claimAs(redis, keys, `gone:${attempt}`, 1, 1 << 20, ['f'])).claimed;
      expect(claimed?.id).toBe(id);
      await ageTask(redis, keys, id, 60_000);
      if (attempt === 1) await until(async () => (await c.get(id))?.state === 'QUEUED', 'requeued');
    }
    const ended = await c.wait(id, { timeout: 5000 });
    expect(ended).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason: 'max_attempts' }, error: { code: 'ERR_MAX_ATTEMPTS' } });
    // its id stays taken: submitting another task with it is refused
    await expect(c.submit('f', { n: 2 }, { id })).rejects.toThrow(DuplicateTaskError);
    // fixed at last: retried by its key, it runs, once
    const b = new Worker({ port: 0, redis: o, logger: quiet });
    let runs = 0;
    b.addTaskFunction('f', () => ++runs);
    cleanup.push(() => b.stop());
    await b.start();
    expect(await c.retryDead(ended.parked!.key)).toBe(true);
    expect(await c.retryDead(ended.parked!.key)).toBe(false);
    await until(async () => (await c.get(id))?.outcome === 'succeeded', 'ended on b');
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'succeeded', result: 1, attempt: 1 });
    expect((await c.get(id))?.parked).toBeUndefined();
    expect(runs).toBe(1);
  });

  it('purged, its id is free again', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const w = new Worker({ port: 0, redis: o, logger: quiet, maxPayloadBytes: 500 });
    w.addTaskFunction('echo', async (t) => t.data);
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('echo', 'x'.repeat(1000)); // too large for this worker: parked
    const t = await c.wait(id, { timeout: 5000 });
    expect(t.parked?.reason).toBe('too_large');
    expect(await c.purgeDead(t.parked!.key)).toBe(true);
    expect(await c.get(id)).toBeNull();
    expect(await c.submit('echo', 'again', { id })).toBe(id);
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'again' });
  });

  it('that exhausted maxAttempts survives the default retention: junk is trimmed, the task is not, even with endRetention 0', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('f', { n: 1 });
    // claimed by a worker that then died: its lease goes stale
    const [claimed] = (await claimAs(redis, keys, 'gone:1', 1, 1 << 20, ['f'])).claimed;
    expect(claimed?.id).toBe(id);
    await ageTask(redis, keys, id, 60_000);
    // junk to trim, parked by a worker
    await swarm(['echo'], o);
    for (let i = 0; i < 4; i++) await redis.lpush(keys.newQueue, `junk ${i}`);
    await until(async () => (await c.stats()).dead === 4, 'four junk dead letters');
    const m = new Monitor({ redis: o, maxAttempts: 1, endRetention: 0, deadLetterMax: 1, checkTaskInterval: 50, taskTimeout: 1000, logger: quiet });
    let sweeps = 0;
    m.on('sweep', () => sweeps++);
    cleanup.push(() => m.stop());
    await m.start();
    await until(() => sweeps >= 3, 'three sweeps');
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason: 'max_attempts' }, error: { code: 'ERR_MAX_ATTEMPTS' } });
    const letters = await c.deadLetters();
    expect(letters.map((l) => l.reason)).toEqual(['max_attempts', 'bad_json']);
    expect(letters[0]).toMatchObject({ id, task: true, history: [expect.objectContaining({ worker: 'gone:1', reason: 'heartbeat timeout' })] });
    expect(letters[0]!.message).toBe(`task "${id}" was claimed 1 time and its worker died (maxAttempts 1)`);
  });
});
