/**
 * A parked task names its dead letter (`TaskInfo.parked.key`, from `get` and `wait`, also when
 * `wait` answers from the end event), and `retryDead` / `purgeDead` take that key. In a
 * partitioned swarm a dead letter's key names its partition (`"2/17"`, as `deadLetters` lists
 * it): the key a parked task gives must be that one too, or it names no letter (or, read as
 * another partition's, the wrong one).
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { partitionOf } from '../src/partitions.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const N = 4;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function idIn(p: number, tag: string): string {
  for (let i = 0; ; i++) if (partitionOf(`${tag}-${i}`, N) === p) return `${tag}-${i}`;
}

describe("a parked task's dead-letter key in a partitioned swarm", () => {
  it('is the key deadLetters lists, from get and from wait, and retryDead and purgeDead take it', async () => {
    {
      const r = { port: server.port, keyPrefix: '{parked}:', partitions: N };
      const client = new Client({ redis: r });
      cleanup.push(() => client.close());
      // too large for this worker: parked when claimed
      const big = new Worker({ port: 0, redis: r, maxPayloadBytes: 500, fetchTaskInterval: 200, logger: quiet });
      big.addTaskFunction('echo', (t) => t.data);
      await big.start();
      const ids = [idIn(1, 'big'), idIn(3, 'big')];
      const waited = [];
      for (const id of ids) {
        await client.submit('echo', 'x'.repeat(1000), { id });
        waited.push(await client.wait(id, { timeout: 5000 }));
      }
      await big.stop();
      const listed = (await client.deadLetters()).map((l) => l.key).sort();
      expect(waited.map((t) => t.parked?.key).sort()).toEqual(listed);
      const got = await Promise.all(ids.map((id) => client.get(id)));
      expect(got.map((t) => t?.parked?.key).sort()).toEqual(listed);
      // retried by the key the task gave: it runs on a worker that takes it
      const small = new Worker({ port: 0, redis: r, fetchTaskInterval: 200, logger: quiet });
      small.addTaskFunction('echo', () => 'ran');
      cleanup.push(() => small.stop());
      await small.start();
      expect(await client.retryDead(waited[0]!.parked!.key)).toBe(true);
      expect(await client.wait(ids[0]!, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
      expect(await client.purgeDead(waited[1]!.parked!.key)).toBe(true);
      expect(await client.deadLetters()).toEqual([]);
    }
  }, 30_000);
});
