/**
 * A client's calls reach Redis in the order they were made when Redis loses the function library
 * mid-life (FUNCTION FLUSH here; a restart without persistence alike). The first script to find
 * it missing has it loaded again and is sent again: a call made while that is under way, written
 * after the load and before the resend, passed it (a cancel made after a submit was refused as a
 * task unknown, and the task stayed queued). Calls go on being made, turn after turn, across the
 * whole window, each one about the call of the turn before.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, aclRule } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { loadLibrary } from '../src/scripts.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

async function flushed(): Promise<{ server: RedisServer; c: Client }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const c = new Client({ redis: server.options() });
  cleanup.push(() => c.close());
  // (the library loaded, and this client started: what follows runs mid-life)
  await c.submit('f', 0, { id: 'warm' });
  expect(await server.client().function('FLUSH')).toBe('OK');
  return { server, c };
}

/** a producer's client (its rules refuse the load) on a swarm whose Redis then lost the library */
async function producerFlushed(): Promise<{ admin: Redis; c: Client }> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const admin = server.client();
  const o = server.options();
  await admin.call('ACL', 'SETUSER', 'p', ...aclRule('producer', resolveRedisConfig(o)).split(' '), '>pw');
  // (the swarm set up by a role that may: the library loaded, its layout written)
  const full = new Client({ redis: o });
  cleanup.push(() => full.close());
  await full.submit('f', 0, { id: 'set-up' });
  const c = new Client({ redis: { ...o, username: 'p', password: 'pw' } });
  cleanup.push(() => c.close());
  await c.submit('f', 0, { id: 'warm' });
  await admin.function('FLUSH');
  return { admin, c };
}

const turn = () => new Promise((r) => setImmediate(r));

/** Call `step(i)` once a turn for `ms`, none awaited; how each of its calls settled, in order. */
async function turns(ms: number, step: (i: number) => Promise<unknown>[]): Promise<PromiseSettledResult<unknown>[]> {
  const made: Promise<PromiseSettledResult<unknown>>[] = [];
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    // (settled as made: a refusal is an answer here, not an unhandled rejection)
    for (const p of step(i)) made.push(p.then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const));
    await turn();
  }
  return Promise.all(made);
}

describe("a client's calls across a library Redis lost mid-life", () => {
  it('a cancel of the task submitted a turn before finds it, every turn: each cancelled, only the last left queued', async () => {
    const { c } = await flushed();
    let n = 0;
    const settled = await turns(300, (i) => {
      n = i + 1;
      return [c.submit('f', i, { id: `t${i}` }), ...(i > 0 ? [c.cancel(`t${i - 1}`)] : [])];
    });
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    const cancels = settled.filter((_, j) => j % 2 === 0 && j > 0).map((s) => (s as PromiseFulfilledResult<unknown>).value);
    expect(cancels.length).toBe(n - 1);
    expect(new Set(cancels)).toEqual(new Set(['cancelled']));
    // (an entry still on the ingress is dropped by the claim that reaches it: its hash says so)
    const states = await Promise.all(Array.from({ length: n }, (_, i) => c.get(`t${i}`)));
    expect(states.slice(0, -1).filter((t) => t?.outcome !== 'cancelled')).toEqual([]);
    expect(states.at(-1)).toMatchObject({ state: 'QUEUED' });
  });

  it('a get of the task submitted a turn before reads it, every turn', async () => {
    const { c } = await flushed();
    const settled = await turns(300, (i) => [c.submit('f', i, { id: `g${i}` }), ...(i > 0 ? [c.get(`g${i - 1}`)] : [])]);
    expect(settled.filter((s) => s.status === 'rejected')).toEqual([]);
    const gets = settled.filter((_, j) => j % 2 === 0 && j > 0).map((s) => (s as PromiseFulfilledResult<{ id: string } | null>).value);
    expect(gets.filter((g) => g === null).length).toBe(0);
  });

  it("a producer, whose rules refuse the load: its calls made meanwhile are refused, none hangs, and all go on once a worker's role has loaded it", async () => {
    const { admin, c } = await producerFlushed();
    const settled = await turns(100, (i) => [c.submit('f', i, { id: `p${i}` }), c.get(`p${i}`), ...(i > 0 ? [c.cancel(`p${i - 1}`)] : [])]);
    const refused = settled.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) expect(String(r.reason)).toMatch(/NOPERM|Function not found/);

    await loadLibrary(admin);
    expect(await c.get('p0')).toBeNull();
    const [id, info, cancelled] = await Promise.all([c.submit('f', 1, { id: 'after' }), c.get('after'), c.cancel('after')]);
    expect([id, info?.state, cancelled]).toEqual(['after', 'QUEUED', 'cancelled']);
  });

  it("a producer's read beside a steady stream of refused submits answers, made once", async () => {
    const { admin, c } = await producerFlushed();
    // submits, one a turn, for 3 s (each refused: NOPERM or not found)
    let stop = false;
    const stream = (async () => {
      for (let i = 0; !stop; i++) {
        void c.submit('f', i, { id: `s${i}` }).catch(() => {});
        await turn();
      }
    })();
    const streamEnds = new Promise<void>((r) => setTimeout(() => ((stop = true), r()), 3000));
    const execs = async () => Number(/cmdstat_exec:calls=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? 0);
    const before = await execs();
    const gets: Promise<unknown>[] = [];
    while (!stop) {
      await new Promise((r) => setTimeout(r, 50));
      gets.push(c.get('warm'));
    }
    await streamEnds;
    await stream;
    // each answers, with the task
    for (const g of await Promise.all(gets)) expect(g).toMatchObject({ id: 'warm' });
    // and each was read once (a get is one MULTI): not made again and again behind every refused
    // submit that began a reload, as it was (a read's median wait 0.2 to 1 s)
    expect(gets.length).toBeGreaterThan(10);
    expect((await execs()) - before).toBe(gets.length);
  });
});
