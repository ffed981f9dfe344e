/**
 * A task whose entry was removed by hand while it was queued is parked by the claim that finds it
 * (`unrunnable`, its dead letter holding no entry: raw ''). retry-dead.lua refuses such a letter,
 * as it does one refused as it stands: queued again, '' would only be parked again. The library
 * turned four of those refusals into an InvalidTaskError, and the CLI into "nothing retried",
 * exit 1; this one ("holds no entry") was missed by the match, and reached the CLI as Redis's
 * own error: "task-swarm: unexpected error: ...". It is refused as the others are.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, InvalidTaskError, Worker } from '../src/index.js';
import { expectOneLine, runMain } from './helpers/cli.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('retry-dead of a letter that holds no entry', () => {
  it('says nothing retried and why, exit 1, the letter left for purge-dead', async () => {
    const prefix = 'noentry:';
    const options = { ...server.options(), keyPrefix: prefix };
    const run = (...argv: string[]) => runMain([...argv, '--key-prefix', prefix], { REDIS_URL: server.url });
    const client = new Client({ redis: options });
    let worker: Worker | undefined;
    // (a worker of another function routes the task to its function's queue, its hash QUEUED)
    const other = new Worker({ port: 0, redis: options, logger: quiet });
    other.addTaskFunction('other', () => null);
    try {
      await other.start();
      expect((await run('submit', 'echo', '"hi"', '--id', 'gone')).code).toBe(0);
      await until(async () => (await redis.hget(`${prefix}task-gone`, 'state')) === 'QUEUED', 'the task to be routed');
      await other.stop();
      // its entry removed by hand while it waits: the claim that finds it parks it
      await redis.hdel(`${prefix}task-gone`, 'data');
      worker = new Worker({ port: 0, redis: options, logger: quiet });
      worker.addTaskFunction('echo', (t) => t.data);
      await worker.start();
      await until(async () => (await client.stats()).dead === 1, 'the task to be parked');
      const [letter] = await client.deadLetters();
      expect(letter).toMatchObject({ reason: 'unrunnable', id: 'gone' });
      const key = letter!.key;

      // the library: refused as the others are, an InvalidTaskError saying why
      await expect(client.retryDead(key)).rejects.toThrow(InvalidTaskError);
      await expect(client.retryDead(key)).rejects.toThrow(new RegExp(`^dead letter ${key} holds no entry`));

      // the CLI: one line, nothing retried, exit 1 (no "unexpected error")
      const r = await run('retry-dead', key);
      expectOneLine(r, 1, new RegExp(`^task-swarm: nothing retried: dead letter ${key} holds no entry \\(its task had none left to run\\)`));
      expect(r.stderr).toMatch(new RegExp(`\\(\`task-swarm purge-dead ${key}\` purges it\\)\n$`));
      expect(r.stdout).toBe('');
      // left as it was, and purge-dead takes it
      expect((await client.deadLetters()).map((l) => l.key)).toEqual([key]);
      expect(await run('purge-dead', key)).toMatchObject({ code: 0, stdout: `purged dead letter ${key} (task gone, was unrunnable)\n` });
    } finally {
      await other.stop();
      await worker?.stop();
      await client.close();
    }
  }, 30_000);
});
