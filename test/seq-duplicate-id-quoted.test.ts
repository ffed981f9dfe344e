/**
 * retryDead's refusal of a duplicate names the task whose id it holds as every message names an
 * id someone chose (lib/quote.lua): quoted, its line breaks and control characters escaped. It
 * was written as it is: an escape sequence in the id went as it was into the Client's error and
 * to the CLI's terminal, and a line break came out as a space (Redis's error reply), so the id
 * shown was not the task's.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { runMain } from './helpers/cli.js';

let server: RedisServer;
let admin: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  admin = r;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe("retryDead's refusal of a duplicate", () => {
  it('names the id quoted, its control characters escaped', async () => {
    const o = { ...server.options(), keyPrefix: 'dq:' };
    const w = new Worker({ port: 0, redis: o, logger: quiet });
    w.addTaskFunction('resize', (t) => t.data);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = 'a\nb\u001b[31m';
    const entry = JSON.stringify({ id, function: 'resize', data: '1' });
    await admin.lpush('dq:new-task', entry);
    await until(async () => (await c.get(id))?.state === 'END', 'the task ended');
    await admin.lpush('dq:new-task', entry);
    const [letter] = await until(async () => {
      const l = await c.deadLetters();
      return l.length ? l : undefined;
    }, 'the duplicate parked');
    expect(letter).toMatchObject({ reason: 'duplicate', id });
    await expect(c.retryDead(letter!.key)).rejects.toThrow('its id is task "a\\nb\\u001b[31m"\'s, which is still there');
    const cli = await runMain(['retry-dead', letter!.key, '--key-prefix', 'dq:'], { REDIS_URL: server.url });
    expect(cli.code).toBe(1);
    expect(cli.stderr).not.toContain('\u001b');
    expect(cli.stderr).toMatch(/once that task is gone/);
  }, 30_000);
});
