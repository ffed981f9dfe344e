/**
 * Review of the per-task path: a task claimed again by the worker that still runs its old copy.
 * The old copy's lease is gone (a monitor requeued the task) and the new claim holds another; a
 * lease renewal the old copy sent (task.update(), or the heartbeat) answers "lost" for the id.
 * That answer is about the lease it carried, not the id: when it arrives after the new claim
 * has started, it must not abandon the new copy. It did: the worker told the task machine of the
 * id LEASE_LOST, so the new copy's function was aborted and the task stayed RUNNING under a
 * lease nobody renewed (requeued, and run again, only once a monitor found it stale).
 *
 * Made deterministic with a slow link (every chunk 300 ms each way): the new claim's reply
 * leaves Redis before the old copy's renewal reaches it, so it reaches the worker first.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe('a task claimed again by the worker that still runs its old copy', () => {
  it("the old copy's renewal answering lost does not abandon the new copy: it runs and ends", async () => {
    const o = server.options();
    const proxy = await startProxy(server.host, server.port);
    cleanup.push(() => proxy.close());
    const quiet = () => {};
    // no heartbeat in this test's time: leases are renewed only by task.update()
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, concurrency: 2, heartbeatInterval: 60_000, logger: { debug: quiet, info: quiet, warn: quiet, error: quiet } });
    let renewNow!: () => void;
    const renew = new Promise<void>((r) => (renewNow = r));
    const aborted: number[] = [];
    w.addTaskFunction('job', async (task) => {
      task.signal.addEventListener('abort', () => aborted.push(task.attempt));
      if (task.attempt === 1) {
        // the old copy: renews its lease once told to, then waits to be told it is lost
        await renew;
        await task.update().catch(() => {});
        await new Promise((r) => setTimeout(r, 5000));
        return 'old';
      }
      await new Promise((r) => setTimeout(r, 800));
      return 'new';
    });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    const id = await c.submit('job');
    await until(async () => (await redis.hget(o.keyPrefix + 'task-' + id, 'state')) === 'RUNNING', 'the first claim');
    const first = await redis.hget(o.keyPrefix + 'task-' + id, 'lease');

    proxy.delay(300);
    const m = new Monitor({ redis: o, taskTimeout: 300, checkTaskInterval: 50 });
    cleanup.push(() => m.stop());
    await m.start();
    // requeued (the old copy renews nothing), and claimed again at once by the worker's wait
    await until(async () => {
      const lease = await redis.hget(o.keyPrefix + 'task-' + id, 'lease');
      return lease !== null && lease !== first;
    }, 'the second claim', 5000, 5);
    await m.stop(); // no more requeues: only the worker can end the task now
    renewNow(); // the old copy's renewal: it reaches Redis after the new claim's reply left

    const t = await c.wait(id, { timeout: 5000 });
    expect(t).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'new', attempt: 2 });
    expect(aborted).toEqual([1]);
  });
});
