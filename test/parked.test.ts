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

describe('a parked task', () => {
  it('`task-swarm submit <unknown function> --wait` answers at once: exit 1, parked, and the key that retries it', async () => {
    const { o } = await swarm(['echo']);
    const r = await cli(['submit', 'typo', '{"n":1}', '--wait', '--timeout', '10000', '--key-prefix', o.keyPrefix]);
    expect(r.code).toBe(1);
    const task = JSON.parse(r.stdout) as { state: string; outcome: string; parked: { reason: string; key: string } };
    expect(task).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason: 'unknown_function' } });
    expect(r.stderr).toContain(`parked as unknown_function; \`task-swarm retry-dead ${task.parked.key}\``);
  });

  it('that was QUEUED again (handed back) ends END when its entry is parked, not QUEUED forever; retried by key it runs', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // a worker with `slow` stops before the task ends: the task is handed back (QUEUED)
    const a = new Worker({ port: 0, redis: o, logger: quiet, stopGrace: 50 });
    a.addTaskFunction('slow', (t) => new Promise((r) => t.signal.addEventListener('abort', () => r('aborted'))));
    await a.start();
    const id = await c.submit('slow', { n: 1 });
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'running on a');
    await a.stop();
    expect((await c.get(id))?.state).toBe('QUEUED');
    // the only worker left lacks the function
    const { w: lacking } = await swarm(['echo'], o);
    const ended = await c.wait(id, { timeout: 5000 });
    expect(ended).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason: 'unknown_function' }, error: { code: 'ERR_UNKNOWN_FUNCTION' } });
    // its id stays taken: submitting it again is refused
    await expect(c.submit('slow', {}, { id })).rejects.toThrow(DuplicateTaskError);
    // deployed at last (and the worker that lacks it gone: there is no routing by function yet):
    // retried by its key, it runs, once
    await lacking.stop();
    const b = new Worker({ port: 0, redis: o, logger: quiet });
    let runs = 0;
    b.addTaskFunction('slow', () => ++runs);
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
    const { c } = await swarm(['echo']);
    const id = await c.submit('nope');
    const t = await c.wait(id, { timeout: 5000 });
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
  });
});
