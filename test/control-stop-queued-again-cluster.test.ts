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
import { Client } from '../src/index.js';
import { newTaskIdIn } from '../src/partitions.js';
import { spawnCluster } from './helpers/deployments.js';
import { expectCancelledForGood, handedBackTasks } from './helpers/queued-again.js';
import { freePort } from './helpers/redis-server.js';

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
      const each = [0, 1, 2].map((p) => ({ id: newTaskIdIn(p, 3), group: 'g' }));
      const ids = await handedBackTasks(r, c, cleanup, 'job', each, { concurrency: 8 });
      for (const id of ids) expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
      expect((await c.stats()).functions.job?.queued).toBe(3);
      await expectCancelledForGood(r, c, cleanup, ids, 'job');
      expect((await c.stats()).functions.job?.queued ?? 0).toBe(0);
    } finally {
      for (const f of cleanup.reverse()) await f().catch(() => {});
      for (const n of d.nodes) await n.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
