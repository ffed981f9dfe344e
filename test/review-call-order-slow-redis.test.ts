/**
 * A Client's calls made, not awaited, in pairs while Redis is slow to answer (frozen ~2.5 s: the
 * client's batching off at 1 s, on again after the thaw): each pair reaches Redis in the order
 * it was made. A get made right after a submit of its id read no task for every pair made in
 * the first ~1.7 s of such a freeze (a 0.7 s one too): the get's MULTI, written at once, passed
 * the submit ioredis held behind its batch still unanswered (src/client.ts pipelineSent).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const settle = <T>(p: Promise<T>) => p.then((v) => v as unknown, (e: unknown) => `${(e as Error).name}: ${(e as Error).message}`);

describe('pairs of calls made across a freeze', () => {
  it('submit then cancel, cancel then submit with a key, submit then get: each in order', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    await c.submit('nobody', 0);
    const pairs: Promise<unknown[]>[] = [];
    let n = 0;
    const burst = async (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        const i = n++;
        const id = `t-${i}`;
        // submit then cancel of its id
        const s1 = settle(c.submit('nobody', i, { id }));
        const c1 = settle(c.cancel(id));
        // submit then a get of it
        const s2 = settle(c.submit('nobody', i, { id: `g-${i}` }));
        const g2 = settle(c.get(`g-${i}`).then((t) => t?.state ?? 'none'));
        pairs.push(Promise.all([s1, c1, s2, g2]).then((r) => [i, ...r]));
        await sleep(37);
      }
    };
    await burst(300);
    server.freeze();
    cleanup.push(() => server.thaw());
    await burst(2500);
    server.thaw();
    await burst(800);
    const all = await Promise.all(pairs);
    const bad = all.filter(([i, s1, c1, s2, g2]) => !(s1 === `t-${i}` && c1 === 'cancelled' && s2 === `g-${i}` && g2 === 'QUEUED'));
    expect(bad).toEqual([]);
  }, 40_000);
});
