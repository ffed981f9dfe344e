/**
 * One schedule whose firing Redis refuses (an error reply: a key of its function's queue damaged
 * by hand, WRONGTYPE; a full Redis, OOM) is that schedule's trouble, not the monitor's: its
 * failure is reported and logged, and the other schedules fire on time while the monitor stays
 * active, requeueing as usual. Before, the whole batch's firing threw, the monitor read the
 * refusal as Redis lost (probing, then a grace of one taskTimeout) and came back to the same
 * refusal: an every-300 ms schedule beside it fired 3 times in 12 s, and nothing was requeued.
 * The refused one is paced (tried again a second later at the soonest), and only it: pacing the
 * whole pass held an every-200 ms schedule beside it to one firing a second (its ticks dropped).
 */
import type { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import { Client, Monitor, type FiringResult } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/**
 * Two schedules, "broken" (grouped, its function's group queue made a string: its firing
 * refused, WRONGTYPE) and "often", and a monitor with `monitor` options; what it fired, and logged
 * as errors.
 */
async function brokenBeside(every: { broken: number; often: number }, monitor: { taskTimeout: number; checkTaskInterval: number }) {
  const o = server.options();
  const keys = keysFor(o.keyPrefix);
  const client = new Client({ redis: o });
  cleanup.push(() => client.close());
  // (a group places the task in its function's queue at once: the damaged key is on that path)
  await client.schedule('broken', { every: every.broken }, 'fb', null, { group: 'g' });
  await client.schedule('often', { every: every.often }, 'fo', null);
  await redis.set(keys.functionQueue('fb', 'groups'), 'not a sorted set');
  const errors: string[] = [];
  const logger = { debug() {}, info() {}, warn() {}, error: (m: unknown) => void errors.push(String(m)) };
  const m = new Monitor({ redis: o, ...monitor, logger });
  const firings: FiringResult['firings'] = [];
  m.on('schedules', (r: FiringResult) => firings.push(...r.firings));
  cleanup.push(() => m.stop());
  await m.start();
  return { m, keys, firings, errors };
}

it('a schedule whose firing Redis refuses is reported failed, and the others fire on time with the monitor active', async () => {
  const { m, keys, firings, errors } = await brokenBeside({ broken: 500, often: 300 }, { taskTimeout: 6000, checkTaskInterval: 200 });
  const states = new Set<string>();
  const look = setInterval(() => states.add(JSON.stringify(m.state)), 50);
  await new Promise((r) => setTimeout(r, 4000));
  clearInterval(look);
  const often = firings.filter((f) => f.name === 'often' && f.outcome === 'fired');
  const broken = firings.filter((f) => f.name === 'broken');
  // (about 13 in 4 s)
  expect(often.length, JSON.stringify(firings)).toBeGreaterThanOrEqual(6);
  expect(broken.length).toBeGreaterThan(0);
  for (const f of broken) {
    expect(f.outcome).toBe('failed');
    expect(f.reason).toMatch(/WRONGTYPE/);
  }
  expect(errors.some((l) => l.startsWith('schedule "broken": the tick of ') && /WRONGTYPE/.test(l)), errors.join('\n')).toBe(true);
  expect([...states].filter((s) => /probing|grace|waiting|paused/.test(s))).toEqual([]);
  // mended, it fires again
  await redis.del(keys.functionQueue('fb', 'groups'));
  await until(() => firings.some((f) => f.name === 'broken' && f.outcome === 'fired'), 'the mended schedule fired', 5000);
});

it("a refused firing paces only that schedule: one beside it due sooner fires on its ticks (sweeps far apart)", async () => {
  // sweeps 8 s apart: between them the monitor wakes for the schedules' ticks alone
  const { firings } = await brokenBeside({ broken: 400, often: 200 }, { taskTimeout: 32_000, checkTaskInterval: 8000 });
  await until(() => firings.some((f) => f.name === 'broken' && f.outcome === 'failed'), 'a refused firing', 5000);
  const from = firings.length;
  await new Promise((r) => setTimeout(r, 4000));
  const later = firings.slice(from);
  const often = later.filter((f) => f.name === 'often' && f.outcome === 'fired');
  // 20 ticks in 4 s; each refused firing once held every schedule a second (4 fired)
  expect(often.length, JSON.stringify(later)).toBeGreaterThanOrEqual(12);
  // the refused one is tried at most once a second, a tick it did not fire (its due time moved on)
  expect(later.filter((f) => f.name === 'broken').length).toBeLessThanOrEqual(11);
}, 20_000);
