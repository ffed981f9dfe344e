/**
 * finish-claim.lua (the ENDs of a batch and the claim of the slots they free, in one call) must
 * be exactly finish.lua then claim.lua. Differential property: two key spaces on one private
 * redis-server are set up alike; one gets finishAndClaim, the other finishTasks then claim; the
 * replies and every key of the two must match (Redis times aside, which differ between calls).
 * The inputs mix what a worker meets: ends by the lease holder and by fenced copies, a retried
 * END, duplicates and bad entries on the queue, functions the worker lacks.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { redisPerFile } from '../helpers/suite.js';
import type { Keys } from '../../src/keys.js';
import { submit } from '../../src/effects/queue.js';
import { finishTasks, type Ending } from '../../src/effects/end-batch.js';
import type { TaskOutcome } from '../../machines/task.js';
import { finishAndClaim } from '../../src/effects/queue.js';
import { claimAs, keysFor, requestFor } from './harness.js';

let redis: Redis;
redisPerFile((_s, r) => {
  redis = r;
});

const W = 'w1:1';
const IDS = ['a', 'b', 'c', 'd', 'e'];
const FUNCTIONS = ['f', 'g'];

type Entry = { kind: 'submit' | 'push'; id: string; fn: string } | { kind: 'bad'; raw: string };
const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  fc.record({ kind: fc.constantFrom('submit' as const, 'push' as const), id: fc.constantFrom(...IDS), fn: fc.constantFrom('f', 'g', 'h') }),
  fc.record({ kind: fc.constant('bad' as const), raw: fc.constantFrom('not json', '[1,2]', '{"function":"f"}', '{"id":"x"}') }),
);

const scenarioArb = fc.record({
  /** queued before the first claim */
  first: fc.array(entryArb, { maxLength: 6 }),
  /** how many the worker claims first */
  claimFirst: fc.integer({ min: 1, max: 4 }),
  /** queued after it: what the fused claim meets */
  then: fc.array(entryArb, { maxLength: 6 }),
  /** per held task: end it (and how), with its lease or as a fenced copy */
  ends: fc.array(fc.record({ end: fc.boolean(), fenced: fc.boolean(), twice: fc.boolean(), outcome: fc.constantFrom<Exclude<TaskOutcome, 'retry'>>('succeeded', 'failed', 'stopped') }), {
    minLength: 4,
    maxLength: 4,
  }),
  max: fc.integer({ min: 1, max: 4 }),
  functions: fc.subarray(FUNCTIONS, { minLength: 1 }),
});
type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

async function enqueue(keys: Keys, entries: Entry[]): Promise<void> {
  for (const e of entries) {
    if (e.kind === 'bad') await redis.lpush(keys.newQueue, e.raw);
    else {
      const raw = JSON.stringify({ id: e.id, function: e.fn, data: { n: 1 } });
      if (e.kind === 'submit') await submit(redis, keys, e.id, raw);
      else await redis.lpush(keys.newQueue, raw);
    }
  }
}

/** the same history in a key space, up to the call under test; returns the endings to send */
async function setUp(keys: Keys, s: Scenario): Promise<Ending[]> {
  await enqueue(keys, s.first);
  const held = (await claimAs(redis, keys, W, s.claimFirst, 10_000, FUNCTIONS)).claimed;
  await enqueue(keys, s.then);
  const endings: Ending[] = [];
  held.forEach((t, i) => {
    const e = s.ends[i % s.ends.length]!;
    if (!e.end) return;
    const ending = { id: t.id, lease: e.fenced ? `99:${W}` : t.lease, outcome: e.outcome, payloadJson: JSON.stringify({ id: t.id }) };
    endings.push(ending);
    if (e.twice) endings.push(ending); // an END retried within the same batch
  });
  return endings;
}

/**
 * every key of a key space, by name without its prefix; Redis times replaced by "T", and dead
 * letters' keys (which start at a Redis time) by their rank, "D1", "D2", ...
 */
async function dump(prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const deadKeys = (await redis.hkeys(`${prefix}new-task:dead:entries`)).sort((a, b) => Number(a) - Number(b));
  const rank = new Map(deadKeys.map((k, i) => [k, `D${i + 1}`]));
  const dead = (k: string) => rank.get(k) ?? k;
  const time = (v: string) => {
    if (/^\d{13}$/.test(v)) return 'T';
    return v.replace(/"at":\d{13}/g, '"at":T').replace(/"(key|dead)":"(\d+)"/g, (_m, f: string, k: string) => `"${f}":"${dead(k)}"`);
  };
  // a dead letter's key where the store or a parked task's hash names it
  const field = (name: string, k: string, v: string) => [name.endsWith(':dead:entries') ? dead(k) : k, k === 'dead' ? dead(v) : time(v)];
  for (const key of (await redis.keys(`${prefix}*`)).sort()) {
    const name = key.slice(prefix.length);
    const type = await redis.type(key);
    if (type === 'hash') out[name] = Object.fromEntries(Object.entries(await redis.hgetall(key)).map(([k, v]) => field(name, k, v)));
    else if (type === 'list') out[name] = (await redis.lrange(key, 0, -1)).map(time);
    else if (type === 'set') out[name] = (await redis.smembers(key)).sort();
    else if (type === 'zset') out[name] = (await redis.zrange(key, 0, -1)).map((m) => (name.includes(':dead:') ? dead(m) : m)).sort();
    else out[name] = time(String(await redis.get(key)));
  }
  return out;
}

let run = 0;

describe('finish-claim.lua', () => {
  it('is finish.lua then claim.lua: same replies, same keys (random histories)', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (s) => {
        run++;
        const fusedPrefix = `fused${run}:`;
        const seqPrefix = `seq${run}:`;
        const fused = keysFor(fusedPrefix);
        const seq = keysFor(seqPrefix);
        const endingsF = await setUp(fused, s);
        const endingsS = await setUp(seq, s);
        // the claim only rides along with ends (EndBatch); a batch has at least one
        fc.pre(endingsF.length > 0);
        expect(await dump(fusedPrefix)).toEqual(await dump(seqPrefix));

        const one = await finishAndClaim(redis, fused, endingsF, requestFor(W, s.max, 10_000, s.functions));
        const written = await finishTasks(redis, seq, endingsS);
        const two = await claimAs(redis, seq, W, s.max, 10_000, s.functions);

        // the same replies, Redis times aside
        expect({ ...one, now: 0 }).toEqual({ written, ...two, now: 0 });
        expect(await dump(fusedPrefix)).toEqual(await dump(seqPrefix));
      }),
      { numRuns: 150 },
    );
  });

  it('ends and claims in one command, and a fenced END writes nothing while the claim still happens', async () => {
    const keys = keysFor('example:');
    for (const id of ['p', 'q']) await submit(redis, keys, id, JSON.stringify({ id, function: 'f' }));
    const [p] = (await claimAs(redis, keys, W, 1, 10_000, ['f'])).claimed;
    const r = await finishAndClaim(
      redis,
      keys,
      [p!, { ...p!, lease: `7:${W}` }].map((t) => ({ id: t.id, lease: t.lease, outcome: 'succeeded' as const, payloadJson: '{"ok":true}' })),
      requestFor(W, 5, 10_000, ['f']),
    );
    // the first END is written; the second, with a lease that is not the task's, is refused
    expect(r.written).toEqual([true, false]);
    expect(r.claimed.map((t) => [t.id, t.attempt])).toEqual([['q', 1]]);
    expect(await redis.hmget(keys.task('p'), 'state', 'outcome', 'result')).toEqual(['END', 'succeeded', '{"ok":true}']);
    expect(await redis.hmget(keys.task('q'), 'state', 'worker')).toEqual(['RUNNING', W]);
  });
});
