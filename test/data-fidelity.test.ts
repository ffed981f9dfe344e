/**
 * What a producer submits is what the task function gets, on a real Redis with a real worker:
 * - a string arrives as that string, also one that reads as JSON ('42' arrived as the number 42,
 *   '12345678901234567890' as a number with digits lost, '{"a":1}' as an object), through
 *   submit, submitMany, a schedule's tick and the CLI; `get` shows it the same;
 * - an entry pushed by hand in the seed's form (`data` a JSON string) still arrives parsed;
 * - a number JSON writes as null (NaN, an infinity) anywhere inside data, a result, an event's
 *   data or a control message's event is refused with an error naming it, where it was stored as
 *   null: data, nothing written; a result, the attempt fails for good; an event, thrown to the
 *   function.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Logger } from 'tslog';
import { Client, InvalidTaskError, Monitor, Worker } from '../src/index.js';
import { redisPerFile } from './helpers/suite.js';
import { runMain } from './helpers/cli.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s: RedisServer, r: Redis) => {
  server = s;
  redis = r;
});

const hidden = () => new Logger({ type: 'hidden' }) as never;

/** a worker whose `echo` gives back task.data as it received it, and a client, on a fresh prefix */
async function swarm(): Promise<{ o: { keyPrefix: string }; c: Client; w: Worker; seen: Map<string, unknown> }> {
  const o = server.options();
  const seen = new Map<string, unknown>();
  const w = new Worker({ port: 0, redis: o, logger: hidden() });
  w.addTaskFunction('echo', async (task) => {
    seen.set(task.id, task.data);
    return task.data;
  });
  await w.start();
  cleanup.push(() => w.stop());
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { o, c, w, seen };
}

const LOOKS_LIKE_JSON = ['42', '12345678901234567890', '{"a":1}', '[1,"2"]', 'true', 'null', '"quoted"', '-0', ' 7 ', ''];
const OTHER = ['plain', 'a "quote" and \\ a backslash', '\ud83d\ude00'];

describe('a string submitted is the string the function gets', () => {
  it('submit: each string, also one that reads as JSON, arrives as itself, and get shows it so', async () => {
    const { c, seen } = await swarm();
    for (const data of [...LOOKS_LIKE_JSON, ...OTHER]) {
      const id = await c.submit('echo', data);
      const t = await c.wait(id, { timeout: 5000 });
      expect({ data, got: seen.get(id), outcome: t.outcome, result: t.result }).toEqual({ data, got: data, outcome: 'succeeded', result: data });
      expect((await c.get(id))?.data).toBe(data);
    }
  });

  it('other JSON values arrive unchanged', async () => {
    const { c, seen } = await swarm();
    for (const data of [42, 0, -1.5, true, null, { a: '1', b: [1, '2', null] }, [], ['42']]) {
      const id = await c.submit('echo', data);
      await c.wait(id, { timeout: 5000 });
      expect(seen.get(id)).toEqual(data);
    }
  });

  it('submitMany: strings that read as JSON, beside other data, each arrive as given', async () => {
    const { c, seen } = await swarm();
    const data = ['42', { n: 42 }, '{"n":42}', 42];
    const ids = await c.submitMany(data.map((d) => ({ fn: 'echo', data: d })));
    for (const id of ids) await c.wait(id, { timeout: 5000 });
    expect(ids.map((id) => seen.get(id))).toEqual(data);
  });

  it("a schedule's tick submits its string data as given", async () => {
    const { o, c, seen } = await swarm();
    const m = new Monitor({ redis: o, taskTimeout: 5000, checkTaskInterval: 100, logger: hidden() });
    await m.start();
    cleanup.push(() => m.stop());
    await c.schedule('s', { every: 200 }, 'echo', '12345678901234567890');
    await until(() => seen.size > 0, 'a tick of the schedule ran', 10_000);
    expect([...seen.values()][0]).toBe('12345678901234567890');
  });

  it('the CLI: a JSON string given as data ("\\"42\\"") arrives as the string', async () => {
    const { o, seen } = await swarm();
    const r = await runMain(['submit', 'echo', '"42"', '--key-prefix', o.keyPrefix, '--wait', '--wait-timeout', '5000'], { REDIS_URL: server.url });
    expect(r.code, r.stderr).toBe(0);
    expect([...seen.values()]).toEqual(['42']);
  });

  it("an entry pushed by hand in the seed's form (data a JSON string) arrives parsed, as the seed's workers read it", async () => {
    const { o, c, seen } = await swarm();
    await redis.lpush(keysFor(o.keyPrefix).newQueue, JSON.stringify({ id: 'by-hand', function: 'echo', data: '{"a":1}' }), JSON.stringify({ id: 'by-hand-2', function: 'echo', data: 'not json' }));
    await c.wait('by-hand', { timeout: 5000 });
    await c.wait('by-hand-2', { timeout: 5000 });
    expect(seen.get('by-hand')).toEqual({ a: 1 });
    expect(seen.get('by-hand-2')).toBe('not json');
  });
});

describe('a number JSON would write as null, anywhere inside a value, is refused', () => {
  it('in data: submit and submitMany name it and where it is, and write nothing', async () => {
    const c = new Client({ redis: server.options() });
    cleanup.push(() => c.close());
    const before = await redis.dbsize();
    await expect(c.submit('echo', { n: NaN }, { id: 'nested-nan' })).rejects.toThrow(/data of task "nested-nan" holds the number NaN \(at "n"\), which JSON would write as null/);
    await expect(c.submit('echo', [1, [Infinity]])).rejects.toThrow(InvalidTaskError);
    await expect(c.submit('echo', { deep: { list: [0, -Infinity] } })).rejects.toThrow(/the number -Infinity \(at "1"\)/);
    await expect(c.submitMany([{ fn: 'echo', data: 1 }, { fn: 'echo', data: { x: NaN } }])).rejects.toThrow(/submitMany\[1\].*NaN/);
    expect(await redis.dbsize()).toBe(before);
  });

  it('the text "null" and a real null inside data are data like any', async () => {
    const { c, seen } = await swarm();
    const data = { a: null, b: 'null', c: [null, 'nullable'] };
    const id = await c.submit('echo', data);
    await c.wait(id, { timeout: 5000 });
    expect(seen.get(id)).toEqual(data);
  });

  it('in a result: the attempt fails for good with an error naming it, attempts left or not', async () => {
    const { c, w } = await swarm();
    w.addTaskFunction('ratio', async () => ({ ratio: 0 / 0 }));
    const t = await c.wait(await c.submit('ratio', null, { attempts: 3 }), { timeout: 5000 });
    expect(t.outcome).toBe('failed');
    expect(t.attempt).toBe(1);
    expect(t.error?.message).toMatch(/holds the number NaN \(at "ratio"\), which JSON would write as null/);
  });

  it("in an event's data: thrown to the function, which can catch it and go on", async () => {
    const { c, w } = await swarm();
    w.addTaskFunction('emits', async (task) => {
      try {
        await task.emit('progress', { pct: Infinity });
        return 'emitted';
      } catch (e) {
        return (e as Error).message;
      }
    });
    const t = await c.wait(await c.submit('emits', null), { timeout: 5000 });
    expect(t.result).toMatch(/event "progress": data holds the number Infinity \(at "pct"\)/);
  });

  it("in a control message's event: refused by control, nothing published", async () => {
    const { c } = await swarm();
    await expect(c.control('any', { event_name: 'x', event: { n: [NaN] } })).rejects.toThrow(/control "x": its event holds the number NaN \(at "0"\)/);
  });
});

describe('text that does not read as JSON is stored as itself', () => {
  it('as an earlier version wrote it: that entry submitted again under its id is the same submission', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // (the entry an earlier Client wrote for submit('f', 'payload', { id: 'job-1' }), pushed as it wrote it)
    const earlier = JSON.stringify({ id: 'job-1', function: 'f', data: 'payload' });
    expect(await c.submit('f', 'payload', { id: 'job-1' })).toBe('job-1');
    expect(await redis.lrange(keysFor(o.keyPrefix).newQueue, 0, -1)).toEqual([earlier]);
    expect(await c.submit('f', 'payload', { id: 'job-1' })).toBe('job-1');
  });

  it('nothing escaped twice: text with quotes and backslashes takes the bytes it took', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const text = 'say "hi" \\ and go';
    await c.submit('f', text, { id: 'quoted' });
    const [raw] = await redis.lrange(keysFor(o.keyPrefix).newQueue, 0, -1);
    expect(raw).toBe(JSON.stringify({ id: 'quoted', function: 'f', data: text }));
  });
});
