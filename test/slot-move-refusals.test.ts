/**
 * A swarm's slot moved with moveSwarmSlot under a client's calls. ioredis follows a MOVED only
 * for a batch whose every command got it; a batch the move split (its first calls run on the
 * source before the move, the rest refused after it) hands the refusals to the calls:
 * - a call so refused rejects with a RedisUnavailableError saying it did not run (never a raw
 *   "MOVED <slot> <node>"), and it did not: a submit so refused left no task (made certain by a
 *   client that still has a moved partition on the node of another, and caught under a move);
 * - a call over several partitions of which a part ran says so, and what else failed (a
 *   submitMany, which made again whole would queue the tasks that ran twice, says which of its
 *   tasks are queued: test/submit-many-partly.test.ts), one of which none ran does not, and made
 *   again it runs whole (the client reads the slots again);
 * - a Cluster node named as one Redis: a MOVED names that mistake.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot, PartlySubmittedError, RedisUnavailableError } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { deployCluster, keyHome, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-slot-move-refusals', { replicas: 0, nodeTimeout: 60_000 }));
}, 90_000);
afterAll(() => removeCluster(d, dir));

const turn = () => new Promise((r) => setImmediate(r));

describe('a slot moved under a client making calls every turn, some of them large', () => {
  it('a call the move refused is told it did not run, and did not', async () => {
    const big = 'x'.repeat(20_000);
    const raw: string[] = [];
    const refused: { c: Client; id: string }[] = [];
    const note = (what: string, c?: Client, id?: string) => (e: Error) => {
      if (/MOVED|ASK/.test(e.message) && !(e instanceof RedisUnavailableError)) raw.push(`${what}: ${e.message}`);
      else if (e instanceof RedisUnavailableError && /did not run/.test(e.message) && c && id) refused.push({ c, id });
    };
    // (the split is a race: rounds of a dozen moves, each on a fresh swarm, until one is seen)
    for (let round = 0; round < 40 && refused.length === 0 && raw.length === 0; round++) {
      const prefix = `{split${round}}:`;
      const c = new Client({ redis: { cluster: d.seeds, keyPrefix: prefix } });
      try {
        await c.submit('f', 0, { id: 'warm' });
        const first = await swarmHome(d.seeds, prefix);
        let moving = true;
        const mover = (async () => {
          try {
            for (let m = 0; m < 12; m++) {
              const home = await swarmHome(d.seeds, prefix);
              const to = d.nodes.find((n) => n.port !== home && n.port !== first) ?? d.nodes.find((n) => n.port !== home)!;
              await moveSwarmSlot({ cluster: d.seeds, keyPrefix: prefix }, { host: '127.0.0.1', port: to.port });
              await new Promise((r) => setTimeout(r, 5));
            }
          } finally {
            moving = false;
          }
        })();
        const calls: Promise<unknown>[] = [];
        for (let i = 0; moving; i++) {
          const id = `t${i}`;
          calls.push(c.submit('f', i % 2 === 0 ? big : i, { id }).catch(note(`submit ${id}`, c, id)));
          calls.push(c.get(id).catch(note(`get ${id}`)));
          calls.push(c.cancel(id).catch(note(`cancel ${id}`)));
          calls.push(c.get(id).catch(note(`get ${id}`)));
          calls.push(c.stats().catch(note('stats')));
          calls.push(c.submit('f', i, { id: `n${i}` }).then(() => c.cancel(`n${i}`)).catch(note(`submit, cancel n${i}`)));
          if (i % 8 === 7) await new Promise((r) => setTimeout(r, 2));
          else await turn();
        }
        await mover;
        await Promise.all(calls);
        // a submit refused left no task (its cancel, made after it, found none: cancelled or not)
        for (const r of refused.filter((x) => x.c === c)) expect([r.id, (await c.get(r.id))?.state ?? 'none']).toEqual([r.id, 'none']);
      } finally {
        await c.close();
      }
    }
    expect(raw).toEqual([]);
    // (the split is a race, seen in a few rounds: when it is not, the test says so)
    if (refused.length === 0) console.warn('slot-move-refusals: no batch was split by a move this run');
  }, 240_000);
});

const PARTS = 6;

/** a client whose partitions 0 and 1 are on one node, partition `moved` of them then moved to another (the client not told) */
async function staleClient(prefix: string, moved = 1): Promise<{ c: Client; fresh: Client }> {
  const redis = { cluster: d.seeds, keyPrefix: prefix, partitions: PARTS };
  const c = new Client({ redis });
  const parts = (c as unknown as { parts: { newQueue: string }[] }).parts;
  const homes = await Promise.all(parts.map((k) => keyHome(d.seeds[0]!.port, k.newQueue)));
  expect(homes[1]).toBe(homes[0]);
  // (every partition's slot known to the client, and written: the move has keys to take)
  await c.submitMany(Array.from({ length: 60 }, (_, i) => ({ fn: 'f', data: i })));
  const to = d.nodes.find((n) => n.port !== homes[moved])!;
  await moveSwarmSlot(redis, { host: '127.0.0.1', port: to.port }, { partition: moved });
  return { c, fresh: new Client({ redis }) };
}

describe('a call over several partitions, one of them moved under it', () => {
  it('submits made in one tick, the moved partition\'s refused in the batch the old node split: that one did not run, and says so; the other ran', async () => {
    const { c, fresh } = await staleClient('{sop4}:');
    try {
      const partOf = (id: string) => (c as unknown as { partOf(id: string): number }).partOf(id);
      const idIn = (p: number, tag: string) => {
        for (let i = 0; ; i++) if (partOf(`${tag}${i}`) === p) return `${tag}${i}`;
      };
      const [stays, moved] = [idIn(0, 'stays'), idIn(1, 'moved')];
      const outcomes = await Promise.all(
        [stays, moved].map((id) =>
          c.submit('f', id, { id }).then(
            () => 'submitted',
            (e: Error) => `${e.name}: ${e.message}`,
          ),
        ),
      );
      expect(outcomes[0]).toBe('submitted');
      expect(outcomes[1]).toMatch(/^RedisUnavailableError: .*MOVED.*it did not run; make it again$/);
      expect([(await fresh.get(stays))?.state, (await fresh.get(moved))?.state ?? 'none']).toEqual(['QUEUED', 'none']);
    } finally {
      await c.close();
      await fresh.close();
    }
  }, 60_000);

  it('a submitMany that queued part of its tasks says which: the moved partition\'s did not run, the rest are queued', async () => {
    const { c, fresh } = await staleClient('{sop1}:');
    try {
      const before = (await fresh.stats()).queued;
      const tasks = Array.from({ length: 60 }, (_, i) => ({ fn: 'f', data: i }));
      const e = await c.submitMany(tasks).then(
        () => undefined,
        (x: unknown) => x,
      );
      // (the batch to the node that lost partition 1 was split: the call fails, and part of it ran)
      expect(e).toBeInstanceOf(PartlySubmittedError);
      const p = e as PartlySubmittedError;
      expect(p.message).toMatch(/^submitMany: \d+ of 60 tasks submitted, \d+ not: .*MOVED/);
      expect(p.unknown).toEqual([]);
      expect(p.notSubmitted).toEqual(p.ids.filter((id) => partitionOf(id, PARTS) === 1));
      expect(p.submitted).toEqual(p.ids.filter((id) => partitionOf(id, PARTS) !== 1));
      expect((await fresh.stats()).queued - before).toBe(p.submitted.length);
      // (the rest submitted again, with their ids: every task once)
      await fresh.submitMany(p.ids.map((id, i) => ({ ...tasks[i]!, options: { id } })).filter((t) => p.notSubmitted.includes(t.options.id)));
      expect((await fresh.stats()).queued - before).toBe(60);
    } finally {
      await c.close();
      await fresh.close();
    }
  }, 60_000);

  it('a pause that paused a partition does not say it did not run', async () => {
    const { c, fresh } = await staleClient('{sop2}:');
    try {
      const outcome = await c.pause('f').then(
        () => 'paused',
        (e: Error) => e.message,
      );
      const paused = (await fresh.stats()).functions['f']?.paused ?? false;
      expect(paused).toBe(true);
      expect(outcome).not.toMatch(/\bit did not run\b/);
      expect(outcome).toMatch(/^pause: .*the rest did/);
    } finally {
      await c.close();
      await fresh.close();
    }
  }, 60_000);
  it('a pause some of whose shares ran, one refused by the move and one for memory, says each', async () => {
    const { c, fresh } = await staleClient('{sop5}:', 0);
    // (partition 1's node, which still holds it: it refuses partition 1's share for its memory,
    // and answers partition 0's, which the client still places there, with MOVED)
    const parts = (fresh as unknown as { parts: { newQueue: string }[] }).parts;
    const admin = new Redis({ port: await keyHome(d.seeds[0]!.port, parts[1]!.newQueue) });
    try {
      await admin.config('SET', 'maxmemory', '1');
      const outcome = await c.pause('f').then(
        () => 'paused',
        (e: Error) => e.message,
      );
      await admin.config('SET', 'maxmemory', '0');
      expect(outcome).toMatch(/^pause: .*MOVED.*did not run, another part failed \(OOM.*\), the rest ran/);
      expect((await fresh.stats()).functions['f']?.paused ?? false).toBe(true);
    } finally {
      await admin.config('SET', 'maxmemory', '0');
      admin.disconnect();
      await c.close();
      await fresh.close();
    }
  }, 60_000);

  it('a pause none of whose shares ran (the moved one refused, the others out of memory) does not say it ran in part', async () => {
    // (partition 0 moved: its refusal is the first share's, in the batch to its old node with
    // partition 1's, which that node refuses for its memory; every node refuses the rest)
    const { c, fresh } = await staleClient('{sop3}:', 0);
    const admins = d.nodes.map((n) => new Redis({ port: n.port }));
    try {
      for (const a of admins) await a.config('SET', 'maxmemory', '1');
      const outcome = await c.pause('f').then(
        () => 'paused',
        (e: Error) => e.message,
      );
      for (const a of admins) await a.config('SET', 'maxmemory', '0');
      expect(outcome).toMatch(/OOM/);
      expect(outcome).not.toMatch(/in part|the rest did/);
      expect((await fresh.stats()).functions['f']?.paused ?? false).toBe(false);
    } finally {
      for (const a of admins) {
        await a.config('SET', 'maxmemory', '0');
        a.disconnect();
      }
      await c.close();
      await fresh.close();
    }
  }, 60_000);
});

describe('a call over several partitions made again after one of them moved', () => {
  it('runs whole the second time', async () => {
    const redis = { cluster: d.seeds, keyPrefix: '{sa}:', partitions: 6 };
    const c = new Client({ redis });
    try {
      const parts = (c as unknown as { parts: { newQueue: string }[] }).parts;
      const homes = await Promise.all(parts.map((k) => keyHome(d.seeds[0]!.port, k.newQueue)));
      expect(homes[1]).toBe(homes[0]);
      await c.pause('g');
      await c.resume('g');
      await moveSwarmSlot(redis, { host: '127.0.0.1', port: d.nodes.find((n) => n.port !== homes[1])!.port }, { partition: 1 });
      const outcomes: string[] = [];
      for (let i = 0; i < 4; i++) outcomes.push(await c.pause('f').then(() => 'paused', (e: Error) => e.message));
      // (the first, split: partition 0 paused, partition 1 refused)
      expect(outcomes[0]).toMatch(/^pause: .*MOVED/);
      expect(outcomes.slice(1)).toEqual(['paused', 'paused', 'paused']);
    } finally {
      await c.close();
    }
  }, 60_000);
});

describe('a cluster node given as one Redis', () => {
  it('a script refused with MOVED names the mistake, not a move to wait out', async () => {
    const keyPrefix = '{nar}:';
    const home = await swarmHome(d.seeds, keyPrefix);
    const c = new Client({ redis: { host: '127.0.0.1', port: home, keyPrefix } });
    try {
      await c.submit('f', 0, { id: 'a' });
      await moveSwarmSlot({ cluster: d.seeds, keyPrefix }, { host: '127.0.0.1', port: d.nodes.find((n) => n.port !== home)!.port });
      const errors: string[] = [];
      for (let i = 0; i < 2; i++) errors.push(await c.submit('f', i, { id: `b${i}` }).then(() => 'submitted', (e: Error) => e.message));
      for (const e of errors) {
        expect(e).toMatch(/MOVED/);
        expect(e).not.toMatch(/make it again/);
        expect(e).toMatch(/redis\.cluster/);
      }
    } finally {
      await c.close();
    }
  }, 60_000);
});
