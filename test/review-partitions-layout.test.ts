/**
 * A client that counts the partitions otherwise than the swarm (an operator's `status` or
 * `pause` without the count, a producer of another config) reads and writes other keys than
 * the swarm's: refused with a ConfigError naming both counts, for what it reads as for what it
 * writes. An empty `stats`, no dead letters, a `pause` that resolves while the workers go on,
 * a `get` that says "unknown" for a task that runs, each would be silently wrong. A read does
 * not claim the count for a swarm not laid out yet (only what writes does).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('a client whose partition count is not the swarm’s', () => {
  it('is refused for reads and for pause, and the swarm is not paused', async () => {
    const swarm = { port: server.port, keyPrefix: '{laid}:', partitions: 4 };
    const worker = new Worker({ port: 0, redis: swarm, fetchTaskInterval: 200, logger: quiet });
    worker.addTaskFunction('echo', (t) => t.data);
    cleanup.push(() => worker.stop());
    await worker.start();
    const right = new Client({ redis: swarm });
    const wrong = new Client({ redis: { ...swarm, partitions: 1 } });
    cleanup.push(() => right.close(), () => wrong.close());
    const id = await right.submit('echo', 1);
    await right.wait(id, { timeout: 5000 });
    const calls: [string, () => Promise<unknown>][] = [
      ['stats', () => wrong.stats()],
      ['deadLetters', () => wrong.deadLetters()],
      ['limits', () => wrong.limits()],
      ['schedules', () => wrong.schedules()],
      ['get', () => wrong.get(id)],
      ['wait', () => wrong.wait(id, { timeout: 3000 })],
      ['pause', () => wrong.pause()],
      ['unschedule', () => wrong.unschedule('nightly')],
    ];
    for (const [name, call] of calls) {
      const e = await call().then(
        () => 'resolved',
        (err: unknown) => err,
      );
      expect([name, e instanceof ConfigError ? (e as Error).message : e]).toEqual([name, expect.stringMatching(/redis\.partitions is 1 here, but this swarm is laid out in 4 partition/)]);
    }
    // the swarm runs on
    const next = await right.submit('echo', 2);
    expect(await right.wait(next, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
  }, 30_000);

  it('a read does not lay out a swarm that has no count yet; the first component that writes does', async () => {
    const r = { port: server.port, keyPrefix: '{fresh}:', partitions: 1 };
    const key = buildKeys(resolveRedisConfig(r)).layout;
    const reader = new Client({ redis: r });
    cleanup.push(() => reader.close());
    expect((await reader.stats()).queued).toBe(0);
    expect(await reader.get('nothing')).toBeNull();
    expect(await redis.get(key)).toBeNull();
    // workers of three partitions then start, and a client of three submits
    const worker = new Worker({ port: 0, redis: { ...r, partitions: 3 }, logger: quiet });
    worker.addTaskFunction('echo', (t) => t.data);
    cleanup.push(() => worker.stop());
    await worker.start();
    expect(await redis.get(key)).toBe('3');
    await expect(reader.stats()).rejects.toThrow(/laid out in 3 partition/);
  }, 30_000);
});
