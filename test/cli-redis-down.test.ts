/**
 * The CLI's long waits (`wait`, `events`, `submit --wait`) while Redis goes away and comes back:
 * each says so on stderr when Redis stops answering and when it answers again, and keeps waiting
 * for the task's end. Their watch of Redis keeps one connection while Redis answers.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import { watchRedis } from '../src/cli/redis-session.js';
import { resolveRedisConfig } from '../src/config.js';
import { Client, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
let redis: Redis;
let n = 0;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  // (with AOF: the queued task is there again after the restart)
  server = await startRedis({ appendonly: true });
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

describe('a long wait of the CLI while Redis is down', () => {
  it.each([
    ['wait', 'shut down', (id: string) => ['wait', id]],
    ['events', 'shut down', (id: string) => ['events', id]],
    ['submit --wait', 'shut down', (id: string) => ['submit', 'later', '--id', id, '--wait']],
    ['wait', 'frozen', (id: string) => ['wait', id]],
  ])('%s says when Redis (%s) stops answering and when it is back, and ends with the task', async (name, how, argv) => {
    const prefix = `down${++n}:`;
    const id = `down-${n}`;
    const options = { ...server.options(), keyPrefix: prefix };
    const client = new Client({ redis: options });
    if (name !== 'submit --wait') await client.submit('later', null, { id });
    await client.close();
    let stderr = '';
    let stdout = '';
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env: { REDIS_URL: server.url } };
    const running = main([...argv(id), '--key-prefix', prefix], io);
    let worker: Worker | undefined;
    try {
      await until(async () => (await redis.exists(`${prefix}task:${id}`)) || (await redis.llen(`${prefix}new-task`)) > 0, 'the task queued');
      await new Promise((r) => setTimeout(r, 500));
      if (how === 'frozen') server.freeze();
      else await server.kill('SIGTERM');
      const why = how === 'frozen' ? 'no answer within 3 s' : '.+';
      await until(() => new RegExp(`^waiting for Redis at redis://127\\.0\\.0\\.1:\\d+: ${why}$`, 'm').test(stderr), 'the wait to say Redis is gone', 15_000);
      if (how === 'frozen') server.thaw();
      else await server.start();
      await until(() => /^Redis at redis:\/\/127\.0\.0\.1:\d+ answers again$/m.test(stderr), 'the wait to say Redis is back', 15_000);
      worker = new Worker({ redis: options, port: 0, logger: quiet });
      worker.addTaskFunction('later', async () => 'done');
      await worker.start();
      expect(await running, stderr).toBe(0);
      if (name !== 'events') expect(JSON.parse(stdout)).toMatchObject({ id, outcome: 'succeeded', result: 'done' });
      expect(stderr).not.toMatch(/^\s+at /m);
    } finally {
      await worker?.stop();
    }
  }, 60_000);
});

describe("the long wait's watch of Redis", () => {
  const connections = async () => Number(/total_connections_received:(\d+)/.exec(await redis.info('stats'))?.[1]);
  const watchFor = async (ms: number, during?: () => Promise<void>) => {
    const said: string[] = [];
    const before = await connections();
    const unwatch = watchRedis(resolveRedisConfig(server.options()), (line) => said.push(line), 100);
    try {
      await new Promise((r) => setTimeout(r, ms / 2));
      await during?.();
      await new Promise((r) => setTimeout(r, ms / 2));
    } finally {
      unwatch();
    }
    return { said, opened: (await connections()) - before };
  };

  it('keeps one connection while Redis answers (a look every 100 ms for 2 s)', async () => {
    const { said, opened } = await watchFor(2000);
    expect(said).toEqual([]);
    expect(opened).toBe(1);
  });

  it('opens a new one, saying nothing, when its connection is closed under it', async () => {
    const { said, opened } = await watchFor(2000, async () => {
      const list = await redis.client('LIST');
      const ids = [...String(list).matchAll(/^id=(\d+) .*cmd=(?:ping|info)/gm)].map((m) => m[1]!);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) await redis.client('KILL', 'ID', id);
    });
    expect(said).toEqual([]);
    expect(opened).toBe(2);
  });

  it('says nothing when its connection is cut while a look is waiting for its answer', async () => {
    // (every chunk 300 ms each way through the proxy: each look is a 600 ms round trip, so a cut
    // lands on a look in flight; the new connection is asked in the same look, and answers)
    const proxy = await startProxy('127.0.0.1', server.port);
    const said: string[] = [];
    const unwatch = watchRedis(resolveRedisConfig({ ...server.options(), port: proxy.port }), (line) => said.push(line), 50);
    try {
      // (the watch's INFO calls: the server's count less this test's own, each counted once done)
      let own = 0;
      const infos = async () => Number(/cmdstat_info:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0) - own++;
      await until(async () => (await infos()) > 0, 'the first look to connect');
      for (let cut = 0; cut < 3; cut++) {
        // (the watch on a connection of its own again, looking with no delay; then each chunk
        // held, and the cut once a look's ask has reached Redis, its answer on the way back)
        const opened = await infos();
        await until(async () => (await infos()) >= opened + 3, 'the watch to look on its connection');
        proxy.delay(300);
        const before = await infos();
        await until(async () => (await infos()) > before, 'a look to reach Redis');
        proxy.reset();
        proxy.heal();
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      unwatch();
      await proxy.close();
    }
    expect(said).toEqual([]);
  });
});
