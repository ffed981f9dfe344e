/**
 * A client's calls reach Redis in the order they were made, on a Redis no one has used yet too:
 * there the first script finds the library missing, and was sent again after the load, behind
 * the calls made after it (a get read no task, a control found none). Each case on a fresh
 * redis-server, the calls made in one turn, none awaited before the next.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function fresh(): Promise<{ server: RedisServer; c: Client }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  // (no library on it: what the case is about)
  expect(await server.client().function('LIST')).toEqual([]);
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  return { server, c };
}

describe("a client's first calls on a Redis that has never had the library", () => {
  it('a submit, then a get of its id: the get reads the task', async () => {
    const { c } = await fresh();
    const [id, info] = await Promise.all([c.submit('f', 1, { id: 'a' }), c.get('a')]);
    expect(id).toBe('a');
    expect(info).toMatchObject({ id: 'a', state: 'QUEUED' });
  });

  it('a submit, then a control message to it: sent, not refused as a task unknown', async () => {
    const { c } = await fresh();
    const [id, sent] = await Promise.allSettled([c.submit('f', 1, { id: 'b' }), c.control('b', 'stop')]);
    expect(id).toEqual({ status: 'fulfilled', value: 'b' });
    expect(sent).toEqual({ status: 'fulfilled', value: 'waiting' });
  });

  it('submits, then stats: the counts hold them', async () => {
    const { c } = await fresh();
    const [, , stats] = await Promise.all([c.submit('f', 1), c.submit('f', 2), c.stats()]);
    expect(stats).toMatchObject({ queued: 2 });
  });

  it('a submit, a cancel of it, then a get: cancelled, and the get reads it ended', async () => {
    const { c } = await fresh();
    const [id, cancelled, info] = await Promise.all([c.submit('f', 1, { id: 'd' }), c.cancel('d'), c.get('d')]);
    expect(id).toBe('d');
    expect(cancelled).toBe('cancelled');
    expect(info).toMatchObject({ id: 'd', state: 'END', outcome: 'cancelled' });
  });
});

describe("a client's first calls on a Cluster none of whose nodes has the library", () => {
  let d: ClusterDeployment | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await removeCluster(d, dir);
    d = dir = undefined;
  });

  it('a submit, then a get of its id, over several partitions: the get reads the task', async () => {
    ({ dep: d, dir } = await deployCluster('task-swarm-first-calls', { replicas: 0 }));
    const c = new Client({ redis: { cluster: d.seeds, keyPrefix: '{firstcalls}:', partitions: 3 } });
    cleanup.push(() => c.close());
    for (const n of d.nodes) {
      const r = new Redis({ port: n.port });
      expect(await r.function('LIST')).toEqual([]);
      r.disconnect();
    }
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const got = await Promise.all([...ids.map((id) => c.submit('f', 1, { id })), ...ids.map((id) => c.get(id))]);
    expect(got.slice(0, ids.length)).toEqual(ids);
    for (const [i, id] of ids.entries()) expect(got[ids.length + i]).toMatchObject({ id, state: 'QUEUED' });
  }, 60_000);
});
