/**
 * Redis loses its data while a heartbeat is on its way that holds only some of the worker's
 * leases: the first task of a claim calls update() as it starts, before the claim's other tasks
 * are taken in, so that renew names it alone. Resent to the emptied Redis, the renew finds that
 * task gone and re-asserts it, and sees Redis's new epoch; the claim's other tasks must still be
 * re-asserted by the next renew (each is judged against the epoch under which the worker last
 * found its own hash), not given up as if their hashes had been cleaned up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker, type Task } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('Redis restarted empty under a renew that names some of the leases', () => {
  it('every task of the claim is re-asserted and ends succeeded, once', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    let frozen = false;
    let runs = 0;
    const failures: string[] = [];
    const w = new Worker({ port: 0, redis: o, concurrency: 4, heartbeatInterval: 100, logger: quiet });
    w.addTaskFunction('busy', async (task: Task<{ ms: number }>) => {
      runs++;
      // The first task to start freezes Redis before its first update(): that renew, sent now,
      // holds this task's lease alone, and is answered only by the Redis that replaces this one.
      if (!frozen) {
        frozen = true;
        server.freeze();
      }
      const start = Date.now();
      while (Date.now() - start < task.data.ms) {
        try {
          await task.update();
        } catch (e) {
          failures.push(`${task.id}: ${(e as Error).message}`);
          throw e;
        }
        await new Promise((r) => setTimeout(r, 40));
      }
      return task.id;
    });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    // queued before the worker starts: its first claim takes all four at once
    const ids = await Promise.all([1, 2, 3, 4].map(() => c.submit('busy', { ms: 2000 })));
    await w.start();
    await until(() => frozen && w.running.length === 4, 'four running, Redis frozen');
    await server.restart(); // SIGKILL + start: empty
    const ended = await Promise.all(ids.map((id) => c.wait(id, { timeout: 10_000 })));
    expect(failures).toEqual([]);
    expect(ended.map((t) => [t.state, t.outcome, t.attempt])).toEqual(ids.map(() => ['END', 'succeeded', 1]));
    expect(runs).toBe(4);
  }, 30_000);
});
