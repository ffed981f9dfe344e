/**
 * An entry under an id in `new-task:queued` that Redis's JSON decoder (cjson) cannot decode. The
 * claim reads such an entry of the seed's kind without decoding it (src/lua/lib/client-entry.lua);
 * what it then does must be what the claim does when it decodes the entry:
 * - nesting deeper than cjson decodes (1000 levels, lib/strict-json.lua): refused, bad_json,
 *   whichever way the claim reads it, as the same entry under an id Client never wrote is;
 * - text JSON.parse refuses too (cut short, trailing text, a bad value): parked `unrunnable` by
 *   the worker that claims it (docs/semantics.md), and the entries claimed with it run, nothing
 *   left running or marked queued.
 * Each case runs through both of a claim's ways of routing: entry by entry (no `group` or
 * `priority` in the window) and the batch (one entry of the window holds a group).
 * Client.submit refuses data nested that deep (JSON.stringify writes it); an entry written so under
 * a queued id (an older Client) is never left queued for good: its refused entry ends it, or is
 * dropped when it was cancelled.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client } from '../src/index.js';
import { keysFor } from './properties/harness.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { pushEntries, recorder, recordingWorker } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** a worker of `concurrency` for f, started before anything is pushed, and a Client to read dead letters */
async function setup(concurrency: number) {
  const o = server.options();
  const rec = recorder();
  const w = recordingWorker(o, 'f', rec, { concurrency });
  const c = new Client({ redis: o });
  cleanup.push(() => c.close(), () => w.stop());
  await w.start();
  return { o, rec, c };
}

/** `data` nested `levels` deep inside the entry's object: the entry is levels + 1 deep */
const nestings: [string, (levels: number) => string][] = [
  ['arrays', (k) => '['.repeat(k) + ']'.repeat(k)],
  ['objects', (k) => '{"a":'.repeat(k - 1) + '{}' + '}'.repeat(k - 1)],
  ['arrays and objects', (k) => Array.from({ length: k }, (_, i) => (i % 2 ? '{"a":' : '[')).join('') + '1' + Array.from({ length: k }, (_, i) => (i % 2 ? '}' : ']')).reverse().join('')],
];

const paths: [string, [string, string][]][] = [
  ['entry by entry', []],
  ['in a batch', [['grouped', '{"id":"grouped","function":"f","data":null,"group":"A"}']]],
];

describe('an entry under an id Client marked queued, which cjson cannot decode', () => {
  for (const [path, extra] of paths) {
    it(`nested deeper than cjson decodes is refused bad_json as it is under an id Client never wrote; 1000 levels deep, it runs (${path})`, async () => {
      const { o, rec, c } = await setup(1);
      const entries: [string, string][] = [['before', '{"id":"before","function":"f","data":1}'], ...extra];
      const refused: string[] = [];
      const runs = ['before', ...extra.map(([id]) => id)];
      for (const [shape, nest] of nestings) {
        const s = shape.replace(/ /g, '-');
        for (const [id, levels] of [
          [`deep-${s}`, 1000],
          [`deep-${s}-never-queued`, 1000],
          [`limit-${s}`, 999],
        ] as const) {
          entries.push([id, `{"id":"${id}","function":"f","data":${nest(levels)}}`]);
          if (levels === 1000) refused.push(id);
          else runs.push(id);
        }
      }
      entries.push(['after', '{"id":"after","function":"f","data":2}']);
      runs.push('after');
      for (const [id, raw] of entries) expect(JSON.parse(raw).id).toBe(id);
      await redis.sadd(keysFor(o.keyPrefix).queued, ...entries.map(([id]) => id).filter((id) => !id.endsWith('never-queued')));
      await pushEntries(redis, o.keyPrefix, entries.map(([, raw]) => raw));
      await rec.started(runs.length);
      const dead = await until(async () => {
        const all = await c.deadLetters();
        return all.length >= refused.length ? all : undefined;
      }, `${refused.length} entries parked`);
      const idOf = (raw: string) => (JSON.parse(raw) as { id: string }).id;
      expect(dead.map((d) => [idOf(d.raw), d.reason]).sort()).toEqual(refused.map((id) => [id, 'bad_json']).sort());
      expect(rec.ids().sort()).toEqual(runs.sort());
    });

    it(`holding text JSON.parse refuses after its function is parked unrunnable by the worker that claims it, and the entries claimed with it run (${path})`, async () => {
      const { o, rec, c } = await setup(4);
      const k = keysFor(o.keyPrefix);
      const bad: [string, string][] = [
        ['cut-short', '{"id":"cut-short","function":"f"'],
        ['cut-in-data', '{"id":"cut-in-data","function":"f","data":{"a":[1,2'],
        ['trailing', '{"id":"trailing","function":"f","data":1}}'],
        ['trailing-text', '{"id":"trailing-text","function":"f","data":1} and more'],
        ['no-value', '{"id":"no-value","function":"f","data":}'],
        ['bad-word', '{"id":"bad-word","function":"f","data":tru}'],
        ['no-colon', '{"id":"no-colon","function":"f","data"}'],
        // a raw NUL, in its data or in its id (an id Client takes, which it writes escaped)
        ['nul-in-data', '{"id":"nul-in-data","function":"f","data":"a\u0000b"}'],
        ['nul\u0000in-id', '{"id":"nul\u0000in-id","function":"f","data":1}'],
      ];
      for (const [, raw] of bad) expect(() => JSON.parse(raw)).toThrow();
      const good: [string, string][] = [
        ['ok-1', '{"id":"ok-1","function":"f","data":1}'],
        ['ok-2', '{"id":"ok-2","function":"f","data":2}'],
      ];
      const entries = [good[0]!, ...bad, ...extra, good[1]!];
      await redis.sadd(k.queued, ...entries.map(([id]) => id));
      await pushEntries(redis, o.keyPrefix, entries.map(([, raw]) => raw));
      await rec.started(good.length + extra.length);
      const dead = await until(async () => {
        const all = await c.deadLetters();
        return all.length >= bad.length ? all : undefined;
      }, `${bad.length} entries parked`);
      expect(dead.map((d) => [d.id, d.reason]).sort()).toEqual(bad.map(([id]) => [id, 'unrunnable']).sort());
      expect(rec.ids().sort()).toEqual([...good, ...extra].map(([id]) => id).sort());
      // nothing left running or marked queued (`tasks` keeps the ended ones until the monitor's cleanup)
      await until(async () => (await redis.zcard(k.leases)) === 0, 'no lease held');
      expect((await redis.smembers(k.taskSet)).sort()).toEqual([...good, ...extra].map(([id]) => id).sort());
      expect(await redis.scard(k.queued)).toBe(0);
      expect(await redis.llen(k.newQueue)).toBe(0);
      for (const [id] of bad) expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'failed' });
    });
  }
});

describe('data as deep as Redis decodes it', () => {
  for (const [shape, nest] of nestings) {
    it(`999 levels in the data (the entry 1000 deep) are taken and run; brackets inside strings count for nothing (${shape})`, async () => {
      const { c } = await setup(1);
      const deepest = JSON.parse(nest(999)) as unknown;
      const id = await c.submit('f', deepest);
      await until(async () => (await c.get(id))?.state === 'END', 'the task to end', 5000);
      expect(await c.get(id)).toMatchObject({ outcome: 'succeeded' });
      const inStrings = { s: '['.repeat(3000), t: '{"\\'.repeat(1500), deep: JSON.parse(nest(990)) as unknown };
      const other = await c.submit('f', inStrings);
      await until(async () => (await c.get(other))?.state === 'END', 'the task to end', 5000);
      expect(await c.get(other)).toMatchObject({ outcome: 'succeeded' });
      await expect(c.submit('f', [deepest])).rejects.toThrow(/nested deeper than Redis decodes JSON \(999 levels/);
    });
  }
});

/** the entry as Client.submit wrote it before it refused data nested that deep: pushed, its id marked queued */
async function queueAsClientDid(prefix: string, id: string, data: unknown): Promise<void> {
  const k = keysFor(prefix);
  await redis.multi().sadd(k.queued, id).lpush(k.newQueue, JSON.stringify({ id, function: 'f', data })).exec();
}

describe('a task whose entry cjson cannot decode (data nested 1000 levels deep)', () => {
  // JSON.stringify has no depth limit: Client refuses such data now. An entry written as it was
  // before (its id marked queued) is one the claim's judge cannot decode: parked as junk under no
  // id, the task stayed QUEUED for good (get said so, wait never ended, a new submit of the id was
  // refused as a duplicate). Read without being decoded (lib/client-entry.lua) or decoded, the
  // entry must meet the same end.
  const cases = nestings.flatMap(([shape, nest]) => [
    [shape, (): unknown => JSON.parse(nest(1000))] as const,
    // (a word the fast path leaves to the judge: what the entry holds beside the depth changes nothing)
    [`${shape}, beside a word of an option`, (): unknown => ({ note: 'no group, no priority', v: JSON.parse(nest(1000)) })] as const,
  ]);
  for (const [shape, make] of cases) {
    it(`submit refuses it, naming why, and writes nothing (${shape})`, async () => {
      const { o, c } = await setup(1);
      await expect(c.submit('f', make(), { id: 'deep' })).rejects.toThrow(/InvalidTaskError|nested deeper than Redis decodes JSON/);
      expect(await redis.keys(`${o.keyPrefix}*deep*`)).toEqual([]);
    });

    it(`written as an older Client wrote it (marked queued), is never left queued for good: its task ends (${shape})`, async () => {
      const { o, c } = await setup(1);
      await queueAsClientDid(o.keyPrefix, 'deep', make());
      await until(async () => (await c.get('deep'))?.state === 'END', 'the task to end', 5000);
      expect(await redis.sismember(keysFor(o.keyPrefix).queued, 'deep')).toBe(0);
    });
  }

  it('cancelled before a claim routed it, is dropped by that claim as any cancelled entry is, not parked', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const k = keysFor(o.keyPrefix);
    await queueAsClientDid(o.keyPrefix, 'deep', JSON.parse(nestings[0]![1](1000)));
    expect(await c.cancel('deep')).toBe('cancelled');
    expect(await redis.hget(k.task('deep'), 'unrouted')).toBe('1');
    const rec = recorder();
    const w = recordingWorker(o, 'f', rec);
    cleanup.push(() => w.stop());
    await w.start();
    await until(async () => (await redis.llen(k.newQueue)) === 0, 'the entry routed');
    // dropped: the mark that keeps its hash from cleanup is gone, nothing parked, nothing run
    await until(async () => (await redis.hget(k.task('deep'), 'unrouted')) === null, 'the entry dropped', 5000);
    expect(await c.deadLetters()).toEqual([]);
    expect(rec.ids()).toEqual([]);
    expect(await c.get('deep')).toMatchObject({ state: 'END', outcome: 'cancelled' });
  });
});

describe('text cjson cannot decode, pushed by hand under the id of a task Client submitted, ahead of its entry', () => {
  // Read undecoded, the worker that claims it parks it; decoded (it holds an option word), the
  // claim parks it bad_json, recorded on the task by the id it starts with. Either way it takes
  // the id first, as any entry ahead under that id does (test/bad-input.test.ts): the task's own
  // entry is then a duplicate, nothing runs, nothing is left running or queued.
  const forged: [string, string, string][] = [
    ['read undecoded', '{"id":"twice","function":"f","data":1}}', 'unrunnable'],
    ['decoded, for an option word', '{"id":"twice","function":"f","data":"group"}}', 'bad_json'],
    ['cut short, decoded', '{"id":"twice","function":"f","priority":', 'bad_json'],
  ];
  for (const [what, raw, reason] of forged) {
    it(`takes the id, parked ${reason} (${what}); the task's own entry is a duplicate`, async () => {
      const o = server.options();
      const k = keysFor(o.keyPrefix);
      const c = new Client({ redis: o });
      cleanup.push(() => c.close());
      await c.submit('f', 'genuine', { id: 'twice' });
      // on the right: claimed first
      await redis.rpush(k.newQueue, raw);
      const rec = recorder();
      const w = recordingWorker(o, 'f', rec, { concurrency: 2 });
      cleanup.push(() => w.stop());
      await w.start();
      const dead = await until(async () => {
        const all = await c.deadLetters();
        return all.length >= 2 ? all : undefined;
      }, 'both entries parked');
      expect(dead.map((d) => [d.reason, d.raw === raw]).sort()).toEqual(
        [
          ['duplicate', false],
          [reason, true],
        ].sort(),
      );
      expect(rec.ids()).toEqual([]);
      expect(await c.get('twice')).toMatchObject({ state: 'END', outcome: 'failed' });
      await until(async () => (await redis.zcard(k.leases)) === 0, 'no lease held');
      expect(await redis.scard(k.queued)).toBe(0);
    });
  }
});
