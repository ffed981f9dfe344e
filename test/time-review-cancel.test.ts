/**
 * Review of issue 8's cancel: a cancelled task never runs, whatever happens to the cancelled
 * task's hash or entry afterwards, and every task that waits can be cancelled.
 *
 * A task of the seed's kind is cancelled while its entry is still on `new-task` (no worker ran a
 * claim since): cancel.lua ends its hash and marks it `unrouted`, and the claim that routes the
 * entry drops it because of that mark. The mark lives in the hash, and the hash is an ended
 * task's: the monitor's cleanup (reap.lua) deletes it (endRetention 0) or lets it expire. Once it
 * is gone the entry, routed later, is a fresh task, and it runs.
 *
 * A parked task retried with retryDead waits QUEUED with its entry on `new-task` and no place in
 * its function's queue: cancel.lua had no branch for it ("QUEUED without a place": 'unknown'), so
 * Client.cancel threw TaskNotFoundError for a task get() shows QUEUED.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor, TaskNotFoundError } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

async function worker(o: object, extra: object = {}): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 200, heartbeatInterval: 200, ...extra });
  cleanup.push(() => w.kill());
  return w;
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

async function monitor(o: object, extra: object = {}): Promise<Monitor> {
  const m = new Monitor({ redis: o, checkTaskInterval: 50, ...extra });
  await m.start();
  cleanup.push(() => m.stop());
  return m;
}

const ran = (w: WorkerProcess, id: string) => w.lines.some((l) => l.startsWith(`STARTED ${id} `));

describe('a task cancelled while its entry waits on new-task', () => {
  for (const endRetention of [0, 100]) {
    it(`never runs, even when the monitor cleans its ended hash up before a claim routes the entry (endRetention ${endRetention})`, async () => {
      const o = server.options();
      const c = client(o);
      await monitor(o, { endRetention });
      const id = await c.submit('echo', 'cancelled before any worker came');
      expect(await c.cancel(id)).toBe('cancelled');
      // the monitor's cleanup has had many sweeps (and the retention has passed)
      await new Promise((r) => setTimeout(r, 600));
      const w = await worker(o);
      const after = await c.submit('echo', 'after');
      // (its start, read from the worker: with endRetention 0 its hash may be gone, and its end
      // event sent, before a wait begun now is subscribed: docs/semantics.md, wait)
      await w.waitFor(new RegExp(`^STARTED ${after} `), 5000);
      await new Promise((r) => setTimeout(r, 300));
      expect(ran(w, id), 'the cancelled task ran').toBe(false);
      // once its entry is dropped, its hash is cleaned up like any ended task's
      await until(async () => (await c.get(id)) === null, 'the hash cleaned up once the entry is dropped', 3000);
    });
  }

  it('is dropped, not dead-lettered, when the routing worker takes smaller payloads than it', async () => {
    const o = server.options();
    const c = client(o);
    const id = await c.submit('echo', 'x'.repeat(300));
    expect(await c.cancel(id)).toBe('cancelled');
    const deadBefore = (await c.stats()).dead;
    const w = await worker(o, { maxPayloadBytes: 200 });
    const after = await c.submit('echo', 'small');
    await c.wait(after, { timeout: 5000 });
    expect(ran(w, id)).toBe(false);
    expect((await c.stats()).dead, 'a cancelled task became a dead letter').toBe(deadBefore);
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  });
});

describe('a parked task retried with retryDead', () => {
  it('can be cancelled while it waits on new-task again, and then never runs', async () => {
    const o = server.options();
    const c = client(o);
    const id = await c.submit('echo', 'y'.repeat(300));
    // parked too_large by a worker that takes small payloads only (kept whole: under 4 KB)
    const small = await worker(o, { maxPayloadBytes: 200 });
    await until(async () => (await c.get(id))?.parked?.reason === 'too_large', 'parked');
    await small.kill();
    const letter = (await c.deadLetters()).find((d) => d.id === id)!;
    expect(await c.retryDead(letter)).toBe(true);
    expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
    let r: unknown;
    try {
      r = await c.cancel(id);
    } catch (e) {
      r = e;
    }
    expect(r, 'cancel of a QUEUED task').not.toBeInstanceOf(TaskNotFoundError);
    expect(r).toBe('cancelled');
    const w = await worker(o);
    const after = await c.submit('echo', 'after');
    await c.wait(after, { timeout: 5000 });
    expect(ran(w, id)).toBe(false);
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
  });
});
