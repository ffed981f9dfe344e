/**
 * `task-swarm wait <id>` of a task RUNNING on a worker that died (SIGKILL, the machine gone) in
 * a swarm with no monitor: only a monitor takes such a task back, so it never ends, and the wait
 * printed "task <id> is RUNNING; waiting for its end" and then nothing, for as long as the user
 * waits. A task that cannot start is explained ("waits, QUEUED: no live worker serves function
 * ..."); one that cannot end must be too: its worker has stopped renewing its lease, and no
 * monitor runs to take it back. `task-swarm cancel <id>` of it says "running: stop sent, it
 * ends stopped", status 0: no worker is there to stop it, and it does not end.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { runMain } from './helpers/cli.js';
import { spawnWorker } from './helpers/processes.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

describe('wait for a task whose worker died, with no monitor', () => {
  it('says why the task does not end, not only that it is RUNNING', async () => {
    const options = { ...server.options(), keyPrefix: 'dead-worker:' };
    const client = new Client({ redis: options });
    const worker = await spawnWorker({ port: 0, redis: options, heartbeatInterval: 200 }, [], ['sleep']);
    try {
      const id = await client.submit('sleep', { ms: 600_000 });
      await until(async () => (await client.get(id))?.state === 'RUNNING', 'the task to run', 10_000);
      await worker.kill('SIGKILL');
      // (its lease goes stale: a few heartbeats missed)
      await new Promise((r) => setTimeout(r, 1500));
      const r = await runMain(['wait', id, '--timeout', '6000', '--key-prefix', 'dead-worker:'], { REDIS_URL: server.url });
      expect(r.code).toBe(1);
      const said = r.stderr.split('\n').filter((l) => l && !/did not end within/.test(l));
      expect(said.join('\n')).toMatch(/monitor/i);
      expect(await redis.exists(`dead-worker:task-${id}`)).toBe(1);
    } finally {
      await worker.kill('SIGKILL').catch(() => {});
      await client.close();
    }
  }, 40_000);

  it('cancel does not promise an end that no one will bring', async () => {
    const options = { ...server.options(), keyPrefix: 'dead-worker-cancel:' };
    const client = new Client({ redis: options });
    const worker = await spawnWorker({ port: 0, redis: options, heartbeatInterval: 200 }, [], ['sleep']);
    try {
      const id = await client.submit('sleep', { ms: 600_000 });
      await until(async () => (await client.get(id))?.state === 'RUNNING', 'the task to run', 10_000);
      await worker.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 1500));
      const r = await runMain(['cancel', id, '--key-prefix', 'dead-worker-cancel:'], { REDIS_URL: server.url });
      await new Promise((res) => setTimeout(res, 3000));
      const t = await client.get(id);
      // (either it ended as said, or the line did not say it would)
      if (t?.state !== 'END') expect(r.stdout + r.stderr).not.toMatch(/it ends stopped/);
      // and it says why it may not end
      expect(r.stderr).toMatch(/no monitor runs: should its worker be gone, nothing takes the task back/);
    } finally {
      await worker.kill('SIGKILL').catch(() => {});
      await client.close();
    }
  }, 40_000);
});
