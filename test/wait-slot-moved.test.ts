/**
 * waitAndClaim sends its block again after a MOVED (up to MOVED_RETRIES); the wait's deadline
 * (src/worker.ts `answeredWithin`) counts from the first send. Each send blocked a whole poll,
 * so a slot moved late in a wait (moveSwarmSlot) had the block sent again outlive the deadline:
 * the connection dropped, and the worker said a proxy, a NAT or a firewall silenced it, while
 * Redis answered all along. A block sent again blocks for what is left of the wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot, Worker } from '../src/index.js';
import { deployCluster, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';
import { levelledLogger } from './helpers/collecting-logger.js';

let d: ClusterDeployment | undefined;
let dir: string | undefined;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('wait-slot-moved', { replicas: 0, nodeTimeout: 5000 }));
}, 60_000);
afterAll(() => removeCluster(d, dir));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a slot moved late in an idle worker’s wait', () => {
  it('is no silent connection: no WARN, the worker takes the next task', async () => {
    const prefix = '{wmv}:';
    const redis = { cluster: d!.seeds, keyPrefix: prefix };
    const { at, logger } = levelledLogger();
    const w = new Worker({ port: 0, redis, logger, heartbeatInterval: 200, fetchTaskInterval: 3000 });
    w.addTaskFunction('f', (t) => t.data);
    const waitingAt: number[] = [];
    w.on('state', (s) => JSON.stringify(s).includes('"waiting"') && waitingAt.push(performance.now()));
    await w.start();
    const c = new Client({ redis });
    try {
      while (waitingAt.length === 0) await sleep(5);
      // 2.5 s into a 3 s wait (deadline 4 s)
      await sleep(waitingAt[0]! + 2500 - performance.now());
      const home = await swarmHome(d!.seeds, prefix);
      const to = d!.nodes.find((n) => n.port !== home)!;
      await moveSwarmSlot(redis, { host: '127.0.0.1', port: to.port });
      await sleep(5000);
      const id = await c.submit('f', 1);
      expect(await c.wait(id, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded' });
      expect(at('warn').filter((l) => /wait for a task had no answer/.test(l))).toEqual([]);
    } finally {
      await c.close();
      await w.stop();
    }
  }, 60_000);
});
