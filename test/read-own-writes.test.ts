/**
 * A client reads its own writes in the order it made its calls, on one Redis and on a Cluster: a
 * read made after a write, in the same turn or the next, reads what the write left, and one made
 * before it what was there before, while the client makes calls every turn, and when another
 * read, made after the write in the same turn, hands the write over. (On a Cluster
 * ioredis keeps each node's auto-pipelined batch behind the node's batch still unanswered, where
 * a read, a MULTI written at once, could pass it.) And on a Cluster a read of one node's keys
 * does not wait for another node, frozen with calls of the client's waiting for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { deployCluster, keyHome, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let d: ClusterDeployment;
let dir: string;
let one: RedisServer;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-read-own-writes', { replicas: 0, nodeTimeout: 60_000 }));
  one = await startRedis();
}, 90_000);
afterAll(async () => {
  await removeCluster(d, dir);
  await one?.stop();
});

const turn = () => new Promise((r) => setImmediate(r));
const TURNS = 60;

/**
 * Each turn a submit of a task, then a cancel and a get of the task submitted `lag` turns
 * before (the get made before the cancel or after it): what each get read. (`tag` starts the
 * ids: the cases of one client share its keys.)
 */
async function getsAroundCancels(c: Client, o: { getFirst: boolean; lag: number; tag: string }): Promise<string[]> {
  await c.submit('f', 0, { id: 'warm' });
  const gets: Promise<string>[] = [];
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < TURNS; i++) {
    writes.push(c.submit('f', i, { id: `${o.tag}${i}` }));
    const id = `${o.tag}${i - o.lag}`;
    if (i >= o.lag) {
      const get = () => gets.push(c.get(id).then((t) => `${id} ${t?.state ?? 'unknown'}`));
      if (o.getFirst) get();
      writes.push(c.cancel(id));
      if (!o.getFirst) get();
    }
    await turn();
  }
  await Promise.all(writes);
  return Promise.all(gets);
}

describe('a client reading its own writes, calls made every turn', () => {
  const cases = ['one Redis', 'a Cluster'].flatMap((where) => [1, 3].flatMap((partitions) => [1, 2].map((round) => ({ where, partitions, round }))));
  for (const { where, partitions, round } of cases) {
    const prefix = `{ro${where.length}${partitions}${round}}:`;
    const client = () => new Client({ redis: where === 'a Cluster' ? { cluster: d.seeds, keyPrefix: prefix, partitions } : { port: one.port, keyPrefix: prefix, partitions } });

    it(`a get made after a cancel reads the task cancelled (${where}, ${partitions} partition(s), round ${round})`, async () => {
      const c = client();
      try {
        // (the cancel and the get of the task submitted the turn before)
        const read = await getsAroundCancels(c, { getFirst: false, lag: 1, tag: 't' });
        expect(read.filter((g) => !g.endsWith(' END'))).toEqual([]);
      } finally {
        await c.close();
      }
    }, 30_000);

    it(`a get made before a cancel reads the task queued (${where}, ${partitions} partition(s), round ${round})`, async () => {
      const c = client();
      try {
        const read = await getsAroundCancels(c, { getFirst: true, lag: 0, tag: 'q' });
        expect(read.filter((g) => !g.endsWith(' QUEUED'))).toEqual([]);
      } finally {
        await c.close();
      }
    }, 30_000);

    it(`a control made after a submit finds the task (${where}, ${partitions} partition(s), round ${round})`, async () => {
      const c = client();
      try {
        await c.submit('f', 0, { id: 'warm' });
        const made: Promise<unknown>[] = [];
        for (let i = 0; i < TURNS; i++) {
          made.push(c.submit('f', i, { id: `c${i}` }), c.control(`c${i}`, { event_name: 'poke', event: i }));
          await turn();
        }
        const refused = (await Promise.allSettled(made)).filter((s) => s.status === 'rejected');
        expect(refused.map((s) => String((s as PromiseRejectedResult).reason))).toEqual([]);
      } finally {
        await c.close();
      }
    }, 30_000);

    it(`limits() made after a setLimit lists it (${where}, ${partitions} partition(s), round ${round})`, async () => {
      const c = client();
      try {
        await c.submit('f', 0, { id: 'warm' });
        const missing: Promise<string | undefined>[] = [];
        const writes: Promise<unknown>[] = [];
        for (let i = 0; i < TURNS; i++) {
          writes.push(c.submit('f', i, { id: `l${i}` }), c.setLimit({ function: `fn${i}` }, { concurrency: i + 1 }));
          missing.push(c.limits().then((all) => (all.some((l) => l.function === `fn${i}`) ? undefined : `fn${i}`)));
          await turn();
        }
        await Promise.all(writes);
        expect((await Promise.all(missing)).filter((m) => m !== undefined)).toEqual([]);
      } finally {
        await c.close();
      }
    }, 30_000);
  }
});

let n = 0;
const options = (where: string) => (where === 'a Cluster' ? { cluster: d.seeds, keyPrefix: `{rb${n++}}:` } : one.options());

describe('a read made before a write, another read made after it in the same turn', () => {
  for (const where of ['one Redis', 'a Cluster'])
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

describe('a Cluster client, one primary frozen with its calls waiting', () => {
  it("reads a live node's task made after its submit, without waiting for the frozen node", async () => {
    const c = new Client({ redis: { cluster: d.seeds, keyPrefix: '{rf}:', partitions: 6 } });
    const inner = c as unknown as { parts: { newQueue: string }[]; partOf(id: string): number };
    let frozen: ClusterDeployment['nodes'][number] | undefined;
    try {
      await c.submit('f', 0, { id: 'warm' });
      const homes = await Promise.all(inner.parts.map((k) => keyHome(d.seeds[0]!.port, k.newQueue)));
      const other = homes.findIndex((h) => h !== homes[0]);
      expect(other).toBeGreaterThan(0);
      const idIn = (p: number, tag: string) => {
        for (let i = 0; ; i++) if (inner.partOf(`${tag}${i}`) === p) return `${tag}${i}`;
      };
      frozen = d.nodes.find((n) => n.port === homes[other])!;
      frozen.proc.kill('SIGSTOP');
      // one submit written to the frozen node, never answered; the next waits behind it, in the
      // client's batch for that node
      const stuck = [c.submit('f', 'x', { id: idIn(other, 'x') }).catch(String)];
      await new Promise((r) => setTimeout(r, 50));
      stuck.push(c.submit('f', 'y', { id: idIn(other, 'y') }).catch(String));
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      const reads: Promise<string>[] = [];
      const submits: Promise<string>[] = [];
      for (let i = 0; i < 10; i++) {
        const id = idIn(0, `live${i}-`);
        submits.push(c.submit('f', i, { id }));
        reads.push(c.get(id).then((t) => t?.state ?? 'unknown'));
        await turn();
      }
      expect(await Promise.all(reads)).toEqual(Array(10).fill('QUEUED'));
      await Promise.all(submits);
      // (the frozen node's calls wait for the client's patience, about 10 s)
      expect(Date.now() - t0).toBeLessThan(3000);
      frozen.proc.kill('SIGCONT');
      frozen = undefined;
      await Promise.all(stuck);
    } finally {
      frozen?.proc.kill('SIGCONT');
      await c.close();
    }
  }, 60_000);
});
