/**
 * A read made before a write keeps its place when another read is made after the write in the
 * same turn: the later read hands over the write, and must not hand it over before the earlier
 * read is written. On one Redis and on a Cluster.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let d: ClusterDeployment;
let dir: string;
let single: RedisServer;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-read-before-later-read', { replicas: 0, nodeTimeout: 60_000 }));
  single = await startRedis();
}, 90_000);
afterAll(async () => {
  await removeCluster(d, dir);
  await single.stop();
});

let n = 0;
const options = (where: string) => (where === 'Cluster' ? { cluster: d.seeds, keyPrefix: `{rb${n++}}:` } : single.options());

describe('a read made before a write, another read made after it in the same turn', () => {
  for (const where of ['one Redis', 'Cluster'])
    for (const warm of [false, true]) {
      it(`a get made before a cancel reads the task queued, one made after it cancelled (${where}, ${warm ? 'warm' : 'first calls'})`, async () => {
        const c = new Client({ redis: options(where) });
        try {
          if (warm) await c.submit('f', 0, { id: 'warm' });
          const submitted = c.submit('f', 1, { id: 'a' });
          const before = c.get('a').then((t) => t?.state ?? 'none');
          const cancelled = c.cancel('a');
          const after = c.get('a').then((t) => t?.state ?? 'none');
          expect([await submitted, await before, await cancelled, await after]).toEqual(['a', 'QUEUED', 'cancelled', 'END']);
        } finally {
          await c.close();
        }
      }, 30_000);

      it(`limits() made before a setLimit does not list it, one made after it does (${where}, ${warm ? 'warm' : 'first calls'})`, async () => {
        const c = new Client({ redis: options(where) });
        try {
          if (warm) await c.submit('f', 0, { id: 'warm' });
          const before = c.limits().then((all) => all.map((l) => l.function));
          const set = c.setLimit({ function: 'g' }, { concurrency: 2 });
          const after = c.limits().then((all) => all.map((l) => l.function));
          await set;
          expect([await before, await after]).toEqual([[], ['g']]);
        } finally {
          await c.close();
        }
      }, 30_000);
    }
});
