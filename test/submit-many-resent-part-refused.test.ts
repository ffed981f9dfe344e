/**
 * A submitMany of caller-chosen ids over two partitions, one id of which is already queued with
 * the very same entry (the list submitted again): the first write queues the other partition's
 * task and writes nothing in the first's (its id is taken), and the tasks left are written
 * again. That second write refused by a slot's move said the submitMany did not run ("make it
 * again"), though the first write had queued a task; then that it ran in part, though every
 * task of it was queued by then. The call did what it was for: it answers their ids.
 *
 * The move's refusal is made here (by runScript on a Cluster that answers MOVED, the way a
 * batch split by a move hands it on) for that second write only: timing a real move there is a
 * race no test can win every time.
 */
import { Cluster, ReplyError } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { partitionOf } from '../src/partitions.js';
import { refusedMoving, runScript } from '../src/scripts.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const refuse = { after: Infinity, error: undefined as unknown };
vi.mock('../src/effects/queue.js', async (original) => {
  const real = await original<typeof import('../src/effects/queue.js')>();
  let all = 0;
  return {
    ...real,
    submitTasks: (...a: Parameters<typeof real.submitTasks>) => {
      if ((a[3] ?? 'all') === 'all' && ++all > refuse.after) return Promise.reject(refuse.error);
      return real.submitTasks(...a);
    },
  };
});

const { Client } = await import('../src/index.js');

let server: RedisServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function refusedByMove(): Promise<unknown> {
  const cluster = Object.create(Cluster.prototype) as Cluster & Record<string, unknown>;
  cluster.options = { enableAutoPipelining: true };
  cluster.fcall = () => Promise.reject(new ReplyError('MOVED 1234 127.0.0.1:7000'));
  cluster.refreshSlotsCache = (done: () => void) => done();
  return runScript(cluster, 'pause', ['{s}:a', '{s}:b'], ['']).catch((e: unknown) => e);
}

/** an id of partition `p` of 2 */
function idIn(p: number, base: string): string {
  for (let i = 0; ; i++) if (partitionOf(`${base}${i}`, 2) === p) return `${base}${i}`;
}

describe('submitMany written again after an id of its own list was found taken', () => {
  it('a refusal of the second write, every task queued by then, answers their ids', async () => {
    refuse.error = await refusedByMove();
    expect(refusedMoving(refuse.error)).toBe(true);
    server = await startRedis();
    const c = new Client({ redis: { ...server.options(), keyPrefix: '{sm}:', partitions: 2 } });
    try {
      const a = idIn(0, 'a');
      const b = idIn(1, 'b');
      await c.submitMany([{ fn: 'f', data: 1, options: { id: a } }]);
      // (the first write of the next call, a script per partition, runs; the one after it is refused by the move)
      refuse.after = 3;
      const said = await c.submitMany([
        { fn: 'f', data: 1, options: { id: a } },
        { fn: 'f', data: 2, options: { id: b } },
      ]).catch((e: Error) => e.message);
      refuse.after = Infinity;
      expect(said).toEqual([a, b]);
      expect((await c.get(b))?.state ?? 'none').toBe('QUEUED');
      expect((await c.stats()).queued).toBe(2);
    } finally {
      await c.close();
    }
  });
});
