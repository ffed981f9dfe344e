/**
 * (Passes: a guard.) On a Redis Cluster, a swarm in partitions each on a primary of its own: a
 * stop of a task queued again after a claim (handed back by its worker as it stopped) runs
 * stop.lua and the cancel that follows on the primary that holds the task, in any partition:
 * cancelled, not run again, nothing of it left queued.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { newTaskIdIn } from '../src/partitions.js';
import { spawnCluster } from './helpers/deployments.js';
import { freePort, until } from './helpers/redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stop of a task queued again, on a Redis Cluster in partitions', () => {
  it('each partition: cancelled, not run again, none left queued', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-stop-cluster-'));
    const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
    const d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0 });
    const cleanup: (() => Promise<unknown>)[] = [];
    try {
      const r = { cluster: d.seeds, keyPrefix: '{stopc}:', partitions: 3 };
      const c = new Client({ redis: r });
      cleanup.push(() => c.close());
      let runs = 0;
      const w1 = new Worker({ port: 0, redis: r, stopGrace: 100, concurrency: 8 });
      w1.addTaskFunction('job', (t) => {
        runs++;
        return new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('aborted'))));
      });
      cleanup.push(() => w1.stop());
      await w1.start();
      const ids = [0, 1, 2].map((p) => newTaskIdIn(p, 3));
      for (const id of ids) await c.submit('job', null, { id, group: 'g' });
      await until(async () => runs === 3, 'the three tasks running', 15_000);
      await w1.stop();
      for (const id of ids) expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
      expect((await c.stats()).functions.job?.queued).toBe(3);
      for (const id of ids) expect(await c.control(id, 'stop')).toBe('cancelled');
      for (const id of ids) expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
      const w2 = new Worker({ port: 0, redis: r });
      w2.addTaskFunction('job', async () => {
        runs++;
        return 'ran';
      });
      cleanup.push(() => w2.stop());
      await w2.start();
      await sleep(500);
      expect(runs).toBe(3);
      expect((await c.stats()).functions.job?.queued ?? 0).toBe(0);
    } finally {
      for (const f of cleanup.reverse()) await f().catch(() => {});
      for (const n of d.nodes) await n.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
