/**
 * A redis+sentinel:// URL whose host is a plain Redis, not a sentinel (the Redis's own address
 * given where the sentinels' go: a common slip). It answered every time, refusing SENTINEL;
 * what the user was told is ioredis's "All sentinels are unreachable and retry is disabled. Last
 * error: ERR unknown command 'sentinel' ..." (Worker.start: "... Retrying from scratch after
 * 150ms ...", in an error that ends the start). "Unreachable" sends the user to the network;
 * the redis+cluster:// form says it already: "a node answered, but it is not a Redis Cluster".
 * The sentinel form must say likewise that the server answered and is not a sentinel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Worker } from '../src/index.js';
import { expectOneLine, runMain } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
const MISLEADING = /unreachable|Retrying from scratch|retry is disabled/;

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

describe('a redis+sentinel:// URL that names a plain Redis', () => {
  it('the CLI: one line saying the server answered and is not a sentinel', async () => {
    const r = await runMain(['status'], { REDIS_URL: `redis+sentinel://127.0.0.1:${server.port}/mymaster` });
    expectOneLine(r, 1, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
    expect(r.stderr).toMatch(/not a (?:Redis )?[Ss]entinel/);
    expect(r.stderr).not.toMatch(MISLEADING);
  });

  it('Worker.start: a typed error saying the server is not a sentinel', async () => {
    const w = new Worker({ redis: { url: `redis+sentinel://127.0.0.1:${server.port}/mymaster` }, port: 0, logger: quiet });
    w.addTaskFunction('f', async () => 1);
    const e = await w.start().then(
      () => undefined,
      (x: unknown) => x as Error & { code?: string },
    );
    await w.stop();
    expect(e?.code).toBe('ERR_REDIS_UNAVAILABLE');
    expect(e?.message).toMatch(/not a (?:Redis )?[Ss]entinel/);
    expect(e?.message).not.toMatch(MISLEADING);
  }, 30_000);
});
