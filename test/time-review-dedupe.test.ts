/**
 * Review of issue 8's dedupe keys: a key is held only while its task is queued, delayed or
 * running, and Redis keeps nothing of it afterwards, however the task ended.
 *
 * finish.lua and cancel.lua free a key (HDEL new-task:keys). A task can also end by being parked
 * (lib/park.lua: too large for the claiming worker, its worker dead `maxAttempts` times, an
 * unrunnable hash): nothing freed its key there, so `new-task:keys` kept one field per parked
 * keyed task for good (purging the dead letter did not remove it either). And a parked task put
 * back by retryDead runs again with its key: it must hold that key again (a second submit with
 * it returns the retried task), unless another task took the key meanwhile.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function worker(o: object, extra: object = {}): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 200, heartbeatInterval: 100, ...extra });
  cleanup.push(() => w.kill());
  return w;
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

const keysHash = (o: { keyPrefix: string }) => `${keysFor(o.keyPrefix).newQueue}:keys`;

describe('a task with a dedupe key that is parked', () => {
  it('frees its key when parked too_large, holds it again when retried, and leaves nothing once purged', async () => {
    const o = server.options();
    const c = client(o);
    const a = await c.submit('echo', 'z'.repeat(300), { key: 'invoice-1' });
    const small = await worker(o, { maxPayloadBytes: 200 });
    await until(async () => (await c.get(a))?.parked?.reason === 'too_large', 'parked');
    await small.kill();
    expect(await redis.hgetall(keysHash(o)), 'a parked task still holds its key').toEqual({});
    // retried: queued again, with its key held again
    const letter = (await c.deadLetters()).find((d) => d.id === a)!;
    expect(await c.retryDead(letter)).toBe(true);
    expect(await c.submit('echo', 'again', { key: 'invoice-1' }), 'the retried task holds its key').toBe(a);
    // parked once more (same small worker), then purged: nothing of the key is left
    const small2 = await worker(o, { maxPayloadBytes: 200 });
    await until(async () => (await c.get(a))?.parked?.reason === 'too_large', 'parked again');
    await small2.kill();
    const again = (await c.deadLetters()).find((d) => d.id === a)!;
    expect(await c.purgeDead(again)).toBe(true);
    expect(await redis.hgetall(keysHash(o))).toEqual({});
  });

  it('frees its key when its worker died in its last attempt (parked max_attempts)', async () => {
    const o = server.options();
    const c = client(o);
    const m = new Monitor({ redis: o, taskTimeout: 400, checkTaskInterval: 50, maxAttempts: 1 });
    await m.start();
    cleanup.push(() => m.stop());
    const w = await worker(o);
    const a = await c.submit('sleep', { ms: 20_000 }, { key: 'nightly' });
    await w.waitFor(new RegExp(`^STARTED ${a} `));
    await w.kill('SIGKILL');
    await until(async () => (await c.get(a))?.parked?.reason === 'max_attempts', 'parked', 8000);
    expect(await redis.hgetall(keysHash(o)), 'a parked task still holds its key').toEqual({});
  });

  it('does not take back a key another task took while it was parked', async () => {
    const o = server.options();
    const c = client(o);
    const a = await c.submit('echo', 'q'.repeat(300), { key: 'k2' });
    const small = await worker(o, { maxPayloadBytes: 200 });
    await until(async () => (await c.get(a))?.parked?.reason === 'too_large', 'parked');
    await small.kill();
    const b = await c.submit('echo', 'b', { key: 'k2', delay: 60_000 });
    expect(b).not.toBe(a);
    const letter = (await c.deadLetters()).find((d) => d.id === a)!;
    expect(await c.retryDead(letter)).toBe(true);
    expect(await c.submit('echo', 'c', { key: 'k2' })).toBe(b);
    expect(await redis.hget(keysHash(o), 'k2')).toBe(b);
  });
});
