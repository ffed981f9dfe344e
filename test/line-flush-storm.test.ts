/**
 * A Redis that loses the function library again and again (FUNCTION FLUSH every 40 ms) while a
 * client submits and a worker runs: every task whose submit resolved runs once and ends, and the
 * worker and the client go on once the flushes stop (no call held for good).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('a flush storm', () => {
  it('loses, strands and runs twice no task', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const admin = server.client();
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = new Worker({ port: 0, redis: o, fetchTaskInterval: 200, heartbeatInterval: 300, logger: quiet });
    cleanup.push(() => w.stop());
    const runs = new Map<string, number>();
    w.addTaskFunction('f', (t) => {
      runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
      return t.data;
    });
    await w.start();
    let storming = true;
    const storm = (async () => {
      while (storming) {
        await admin.function('FLUSH');
        await new Promise((r) => setTimeout(r, 40));
      }
    })();
    const submitted: string[] = [];
    const refused: string[] = [];
    const refusedIds: string[] = [];
    for (let i = 0; i < 300; i++) {
      const id = `s${i}`;
      c.submit('f', i, { id }).then(
        () => submitted.push(id),
        (e: unknown) => (refused.push(`${id}: ${String(e)}`), refusedIds.push(id)),
      );
      await new Promise((r) => setTimeout(r, 5));
    }
    storming = false;
    await storm;
    await new Promise((r) => setTimeout(r, 500));
    // (most go in: a submit is refused only when the library is flushed again as it is sent again)
    expect(submitted.length).toBeGreaterThan(refused.length);
    const ends = await Promise.all(submitted.map((id) => c.wait(id, { timeout: 15_000 }).then((t) => t.outcome, (e: unknown) => String(e))));
    const bad = ends.map((e, i) => [submitted[i], e]).filter(([, e]) => e !== 'succeeded');
    expect(bad).toEqual([]);
    expect([...runs].filter(([, n]) => n > 1)).toEqual([]);
    // a submit refused (the library found missing once more as it was sent again) queued nothing
    expect((await Promise.all(refusedIds.map((id) => c.get(id)))).filter((t) => t !== null)).toEqual([]);
    expect([...runs.keys()].filter((id) => refusedIds.includes(id))).toEqual([]);
    // and both go on
    expect(await c.wait(await c.submit('f', 'after'), { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
  }, 60_000);
});
