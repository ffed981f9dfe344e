/**
 * A call over several partitions (pause) of which no share ran: one refused by a slot's move
 * (it did not run), the other refused by Redis for its own reason (OOM: it did not run either).
 * The call must not say it ran in part ("the rest did"): nothing ran. It said so whenever the
 * share refused by the move came first, for any other failure of the rest.
 *
 * The two refusals are made here (the move's by runScript on a Cluster that answers MOVED, the
 * way a batch split by a move hands it on; the OOM as Redis words it): a move that splits one
 * batch while another node refuses, at once, is a race no test can time.
 */
import { Cluster, ReplyError } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runScript, refusedMoving } from '../src/scripts.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const refusals: unknown[] = [];
vi.mock('../src/effects/pause.js', async (original) => {
  const real = await original<typeof import('../src/effects/pause.js')>();
  let n = 0;
  return { ...real, pause: () => Promise.reject(refusals[n++ % refusals.length]) };
});

const { Client } = await import('../src/index.js');

let server: RedisServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** the error runScript gives a call whose script a slot's move refused */
async function refusedByMove(): Promise<unknown> {
  const cluster = Object.create(Cluster.prototype) as Cluster & Record<string, unknown>;
  cluster.options = { enableAutoPipelining: true };
  cluster.fcall = () => Promise.reject(new ReplyError('MOVED 1234 127.0.0.1:7000'));
  cluster.refreshSlotsCache = (done: () => void) => done();
  return runScript(cluster, 'pause', ['{s}:a', '{s}:b'], ['']).catch((e: unknown) => e);
}

describe('pause over two partitions, neither share run', () => {
  it('does not say it ran in part', async () => {
    const moved = await refusedByMove();
    expect(refusedMoving(moved)).toBe(true);
    refusals.push(moved, new ReplyError("OOM command not allowed when used memory > 'maxmemory'."));
    server = await startRedis();
    const c = new Client({ redis: { ...server.options(), keyPrefix: '{s}:', partitions: 2 } });
    try {
      const said = await c.pause().then(
        () => 'resolved',
        (e: Error) => e.message,
      );
      expect(said).not.toMatch(/in part|the rest did/);
    } finally {
      await c.close();
    }
  });
});
