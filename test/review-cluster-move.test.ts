/**
 * Review of moveSwarmSlot (src/slot-move.ts, src/lua/admin/move-slot.lua) at its edges, on a
 * real Redis Cluster of three primaries.
 *
 * The move's script MIGRATEd the slot's keys in batches of a thousand, each batch deleted from
 * the source as it landed. A target that refused a later batch (out of memory, gone, timed out)
 * left the swarm split: the keys of the first batches on the target, in a slot it only imports
 * (no client reads them there), the rest on the source, which still served the slot: tasks, the
 * queue, indexes gone for the swarm. Two moves at once left the loser's target importing the slot
 * for good, and said only "MOVED". A first seed that did not answer failed the move, where every
 * component tries the next.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot, StateError, TaskSwarmError, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { freePort, until } from './helpers/redis-server.js';
import { spawnCluster, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
const admins: Redis[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-cluster-move-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0, nodeTimeout: 5000 });
  for (const n of d.nodes) admins.push(new Redis({ port: n.port }));
}, 60_000);

afterAll(async () => {
  for (const a of admins) a.disconnect();
  for (const n of d?.nodes ?? []) await n.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const admin = (port: number) => admins[d.nodes.findIndex((n) => n.port === port)]!;

async function slotOf(prefix: string): Promise<number> {
  return Number(await admins[0]!.cluster('KEYSLOT', buildKeys(resolveRedisConfig({ cluster: d.seeds, keyPrefix: prefix })).newQueue));
}

/** per node: the keys it holds in `slot`, whether it serves the slot, and whether the slot is open there (importing or migrating) */
async function slotState(slot: number): Promise<{ port: number; keys: number; serves: boolean; open: boolean }[]> {
  return Promise.all(
    d.nodes.map(async (n) => {
      const a = admin(n.port);
      const mine = ((await a.cluster('NODES')) as string).split('\n').find((l) => l.includes('myself'))!.split(' ').slice(8);
      const serves = mine.some((r) => {
        const [lo, hi] = r.split('-').map(Number);
        return !r.startsWith('[') && slot >= lo! && slot <= (hi ?? lo!);
      });
      return { port: n.port, keys: Number(await a.cluster('COUNTKEYSINSLOT', slot)), serves, open: mine.some((r) => r.startsWith(`[${slot}-`)) };
    }),
  );
}

/** a worker runs every task submitted so far on `prefix`: each ends succeeded */
async function allRun(prefix: string, ids: string[]): Promise<void> {
  const redis = { cluster: d.seeds, keyPrefix: prefix };
  const worker = new Worker({ port: 0, redis, concurrency: 100 });
  worker.addTaskFunction('echo', async (t) => (t.data as { n: number }).n);
  await worker.start();
  const client = new Client({ redis });
  try {
    const ends = await Promise.all(ids.map((id) => client.wait(id, { timeout: 60_000 })));
    expect(ends.filter((e) => e.outcome !== 'succeeded')).toEqual([]);
  } finally {
    await client.close();
    await worker.stop();
  }
}

describe('moveSwarmSlot at its edges', () => {
  it('a target that refuses part of the keys (out of memory): the move fails, the swarm stays whole on the source with no slot left open, and can be moved once the target takes it', async () => {
    const prefix = '{fat}:';
    const redis = { cluster: d.seeds, keyPrefix: prefix };
    const slot = await slotOf(prefix);
    const client = new Client({ redis });
    try {
      // more keys than one MIGRATE batch (a thousand): ended tasks keep their hashes; and tasks queued
      const ended = await client.submitMany(Array.from({ length: 1500 }, (_, n) => ({ fn: 'echo', data: { n, pad: 'x'.repeat(1000) } })));
      await allRun(prefix, ended);
      const queued = await client.submitMany(Array.from({ length: 200 }, (_, n) => ({ fn: 'echo', data: { n } })));
      const before = await slotState(slot);
      const source = before.find((s) => s.serves)!;
      const target = before.find((s) => !s.serves)!;
      expect(source.keys).toBeGreaterThan(1500);
      // room on the target for about half of them
      const keys = (await admin(source.port).cluster('GETKEYSINSLOT', slot, source.keys)) as string[];
      let bytes = 0;
      for (const k of keys) bytes += Number(await admin(source.port).memory('USAGE', k));
      const used = Number(/^used_memory:(\d+)/m.exec(await admin(target.port).info('memory'))![1]);
      await admin(target.port).config('SET', 'maxmemory', String(used + Math.round(bytes / 2)));
      try {
        const moved = moveSwarmSlot(redis, { host: '127.0.0.1', port: target.port });
        await expect(moved).rejects.toBeInstanceOf(TaskSwarmError);
        await expect(moved).rejects.toThrow(/OOM/);
      } finally {
        await admin(target.port).config('SET', 'maxmemory', '0');
      }
      // the swarm whole where it was, and nothing of it anywhere else
      const after = await slotState(slot);
      expect(after).toEqual(before);

      // the target takes it now: the move goes through, every key lands there
      expect((await moveSwarmSlot(redis, { host: '127.0.0.1', port: target.port })).keys).toBe(source.keys);
      await until(async () => (await slotState(slot)).find((s) => s.port === target.port)?.serves, 'the target serving the slot', 5000);
      expect((await slotState(slot)).map((s) => s.keys)).toEqual(before.map((s) => (s.port === target.port ? source.keys : 0)));
      expect((await Promise.all(ended.map((id) => client.get(id)))).filter((t) => t?.state !== 'END')).toEqual([]);
      await allRun(prefix, queued);
    } finally {
      await client.close();
    }
  }, 120_000);

  it('two moves of one swarm at once: one goes through, the other is refused as such, and no slot is left open', async () => {
    const prefix = '{twice}:';
    const redis = { cluster: d.seeds, keyPrefix: prefix };
    const slot = await slotOf(prefix);
    const client = new Client({ redis });
    const ids = await client.submitMany(Array.from({ length: 50 }, (_, n) => ({ fn: 'echo', data: { n } })));
    await client.close();
    const others = (await slotState(slot)).filter((s) => !s.serves);
    const results = await Promise.allSettled(others.map((o) => moveSwarmSlot(redis, { host: '127.0.0.1', port: o.port })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(StateError);
    // (the lock held, the slot moved while it looked, or the other move already done when it
    // asked the source: each is the refusal of a second move, by how far the first had got)
    expect((refused.reason as Error).message).toMatch(/under way|moved meanwhile|another move just ended/);
    await new Promise((r) => setTimeout(r, 500));
    const state = await slotState(slot);
    expect(state.filter((s) => s.open)).toEqual([]);
    expect(state.filter((s) => s.keys > 0)).toHaveLength(1);
    await allRun(prefix, ids);
  }, 60_000);

  it('a first seed that does not answer: the next is asked', async () => {
    const prefix = '{seeded}:';
    const slot = await slotOf(prefix);
    const to = (await slotState(slot)).find((s) => !s.serves)!;
    const dead = await freePort();
    const r = await moveSwarmSlot({ cluster: [{ host: '127.0.0.1', port: dead }, ...d.seeds], keyPrefix: prefix }, { host: '127.0.0.1', port: to.port });
    expect(r.to).toBe(`127.0.0.1:${to.port}`);
  }, 30_000);

  it('keys a target holds in the slot it does not serve (left by a move that died halfway) do not come into the swarm with the next move', async () => {
    const prefix = '{ghosts}:';
    const redis = { cluster: d.seeds, keyPrefix: prefix };
    const slot = await slotOf(prefix);
    const client = new Client({ redis });
    try {
      const id = await client.submit('echo', { n: 1 });
      const state = await slotState(slot);
      const source = state.find((s) => s.serves)!;
      const target = state.find((s) => !s.serves)!;
      // a task hash and a queue entry the swarm does not have, on the target, in the swarm's slot
      const sourceId = (await admin(source.port).cluster('MYID')) as string;
      const t = admin(target.port);
      await t.cluster('SETSLOT', slot, 'IMPORTING', sourceId);
      await t.pipeline().asking().hset(`${prefix}task-ghost`, 'state', 'RUNNING').asking().set(`${prefix}stray`, '1').exec();
      await t.cluster('SETSLOT', slot, 'STABLE');
      expect(Number(await t.cluster('COUNTKEYSINSLOT', slot))).toBe(2);

      await moveSwarmSlot(redis, { host: '127.0.0.1', port: target.port });
      expect(Number(await t.cluster('COUNTKEYSINSLOT', slot))).toBe(source.keys);
      expect(await client.get('ghost')).toBeNull();
      await allRun(prefix, [id]);
    } finally {
      await client.close();
    }
  }, 30_000);
});
