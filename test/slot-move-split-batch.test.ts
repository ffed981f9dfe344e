/**
 * A swarm's slot moved with moveSwarmSlot while a client makes calls every turn. A batch of the
 * client's calls that the source node runs in two parts, the move's script between them (a batch
 * larger than one read of the socket), comes back partly run and partly MOVED, and ioredis
 * follows a MOVED only for a batch whose every command got it. A call so refused rejects with a
 * RedisUnavailableError saying it did not run (never a raw "MOVED <slot> <node>"), and it did
 * not: a submit so refused left no task.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot, RedisUnavailableError } from '../src/index.js';
import { deployCluster, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

let d: ClusterDeployment;
let dir: string;
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-slot-move-split-batch', { replicas: 0, nodeTimeout: 60_000 }));
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
    if (refused.length === 0) console.warn('slot-move-split-batch: no batch was split by a move this run');
  }, 240_000);
});
