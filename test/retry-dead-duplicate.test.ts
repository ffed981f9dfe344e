/**
 * A dead letter parked as a duplicate (an entry pushed with the id of a task that is there) is
 * refused by `retryDead` while that task is there: queued again it would only be parked again,
 * under a new key, and the retry said it was queued (the CLI printed "requeued"). Once that task
 * is gone, the retry queues it, and it runs.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, InvalidTaskError, Worker } from '../src/index.js';
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

/** in a swarm of its own (`prefix`), task `id` pushed by hand, run to its end, then pushed again: parked as a duplicate */
async function parkedDuplicate(prefix: string, id: string, data: string) {
  const o = { ...server.options(), keyPrefix: prefix };
  const w = new Worker({ port: 0, redis: o, logger: quiet });
  w.addTaskFunction('resize', (t) => t.data);
  const c = new Client({ redis: o });
  cleanup.push(() => c.close(), () => w.stop());
  await w.start();
  const entry = JSON.stringify({ id, function: 'resize', data });
  await admin.lpush(`${prefix}new-task`, entry);
  await until(async () => (await c.get(id))?.state === 'END', 'the task ended');
  await admin.lpush(`${prefix}new-task`, entry);
  const [letter] = await until(async () => {
    const l = await c.deadLetters();
    return l.length ? l : undefined;
  }, 'the duplicate parked');
  expect(letter).toMatchObject({ reason: 'duplicate', id });
  return { c, letter: letter! };
}

describe('retryDead of a dead letter parked as a duplicate', () => {
  it('is refused while the task whose id it holds is there, the letter kept; once that task is gone, it is queued and runs', async () => {
    const { c, letter } = await parkedDuplicate('dup:', 'abc', '{"n":1}');

    await expect(c.retryDead(letter.key)).rejects.toThrow(InvalidTaskError);
    await expect(c.retryDead(letter.key)).rejects.toThrow(/was parked for duplicate: its id is task "abc"'s, which is still there/);
    const cli = await runMain(['retry-dead', letter.key, '--key-prefix', 'dup:'], { REDIS_URL: server.url });
    expect(cli.code).toBe(1);
    expect(cli.stdout).not.toMatch(/requeued/);
    expect((await c.deadLetters()).map((l) => l.key)).toEqual([letter.key]);

    // the task it duplicates is gone (its retention over): the retry queues it, and it runs
    await admin.del('dup:task-abc');
    expect(await c.retryDead(letter.key)).toBe(true);
    await until(async () => (await c.get('abc'))?.state === 'END', 'the retried task ended');
    expect(await c.get('abc')).toMatchObject({ outcome: 'succeeded', result: { n: 1 } });
    expect(await c.deadLetters()).toEqual([]);
  }, 30_000);

  // (as every message names an id someone chose, lib/quote.lua: an escape sequence in it went as
  // it was into the Client's error and to the CLI's terminal, and a line break came out as a space)
  it('names the id quoted, its control characters escaped', async () => {
    const id = 'a\nb\u001b[31m';
    const { c, letter } = await parkedDuplicate('dq:', id, '1');
    await expect(c.retryDead(letter.key)).rejects.toThrow('its id is task "a\\nb\\u001b[31m"\'s, which is still there');
    const cli = await runMain(['retry-dead', letter.key, '--key-prefix', 'dq:'], { REDIS_URL: server.url });
    expect(cli.code).toBe(1);
    expect(cli.stderr).not.toContain('\u001b');
    expect(cli.stderr).toMatch(/once that task is gone/);
  }, 30_000);
});
