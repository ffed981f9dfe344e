/**
 * `submitMany` in a partitioned swarm: its tasks go to several partitions, one submit script
 * each, so one partition refusing a taken id cannot undo what the others wrote. The promise of
 * docs/semantics.md ("Bulk submit") must still hold: a list holding a used id writes nothing at
 * all, whatever partitions its tasks fall in; a retry of the whole list (the ids it generated
 * then new) must not queue the others twice.
 */
import { describe, expect, it } from 'vitest';
import { Client, DuplicateTaskError } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const N = 4;

/** an id in partition `p` */
function idIn(p: number, tag: string): string {
  for (let i = 0; ; i++) if (partitionOf(`${tag}-${i}`, N) === p) return `${tag}-${i}`;
}

describe('submitMany across partitions, with an id already taken', () => {
  it('writes nothing in any partition and rejects naming the taken id', async () => {
    const redis = { port: server.port, keyPrefix: '{bulk}:', partitions: N };
    const client = new Client({ redis });
    cleanup.push(() => client.close());
    const used = idIn(2, 'used');
    await client.submit('nobody', 'first', { id: used });
    const chosen = [idIn(0, 'a'), idIn(1, 'b'), idIn(3, 'c')];
    const list: { fn: string; data: unknown; options?: { id?: string; group?: string; delay?: number } }[] = [
      ...chosen.map((id) => ({ fn: 'nobody', data: id, options: { id } })),
      { fn: 'nobody', data: 'again', options: { id: used } },
      // generated ids, and tasks placed whole (a group, a delay) in other partitions
      ...Array.from({ length: 12 }, (_, i) => ({ fn: 'nobody', data: i })),
      { fn: 'nobody', data: 'grouped', options: { group: 'g-1' } },
      { fn: 'nobody', data: 'later', options: { delay: 60_000 } },
    ];
    const err = await client.submitMany(list).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DuplicateTaskError);
    expect((err as DuplicateTaskError).message).toContain(used);
    for (const id of chosen) expect(await client.get(id)).toBeNull();
    const stats = await client.stats();
    // only the first submit's task is in the swarm
    expect({ queued: stats.queued, delayed: stats.functions.nobody?.delayed ?? 0, routed: stats.functions.nobody?.queued ?? 0 }).toEqual({ queued: 1, delayed: 0, routed: 0 });
    // the list without the used id then goes in whole, once
    const ids = await client.submitMany(list.filter((t) => t.options?.id !== used));
    expect(ids.slice(0, 3)).toEqual(chosen);
    const after = await client.stats();
    expect(after.queued + (after.functions.nobody?.queued ?? 0) + (after.functions.nobody?.delayed ?? 0)).toBe(1 + list.length - 1);
  }, 30_000);
});
