/**
 * What a task function returns, and what it emits, change on the way as submitted data does
 * (test/data-dropped-inside.test.ts), where a NaN inside is refused: a Map or a Set with entries
 * is stored as {}, a function as an object's value is left out, undefined or a Symbol inside an
 * array is stored as null. `wait` then answers with another result than the function returned,
 * and a follower gets another event than was emitted, nothing said. A result must fail the
 * attempt as one holding NaN does; an event must be refused to the function as one holding NaN
 * is.
 *
 * By design (docs/semantics.md), where this test first asked for a failed attempt: a function
 * as an object's value (the `callback` result) is kept as JSON writes it, left out, as it is in
 * submitted data: it leaves no trace in the JSON text for the check to find without walking
 * every result, and a method on a returned object is common. The test asserts the attempt
 * succeeds with the value JSON writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker, type TaskEvent } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let server: RedisServer;
let client: Client;
let worker: Worker;
const emitted: { id: string; error?: string }[] = [];

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  worker = new Worker({ redis, port: 0, logger: quiet });
  worker.addTaskFunction('rows', async () => ({ rows: new Map([['a', 1]]) }));
  worker.addTaskFunction('callback', async () => ({ n: 1, done: () => 1 }));
  worker.addTaskFunction('holes', async () => [1, undefined, Symbol('s')]);
  worker.addTaskFunction('emits', async (task) => {
    try {
      task.emit('progress', { seen: new Set(['x']) });
      emitted.push({ id: task.id });
    } catch (e) {
      emitted.push({ id: task.id, error: (e as Error).message });
    }
    await new Promise((r) => setTimeout(r, 200));
    return 'ok';
  });
  await worker.start();
  client = new Client({ redis, logger: quiet });
});
afterAll(async () => {
  await client.close();
  await worker.stop();
  await server.stop();
});

describe('a result JSON would change', () => {
  it.each([
    ['rows', /a Map with entries \(at "rows"\)/],
    ['holes', /a Symbol \(at "2"\) inside an array/],
  ])('%s: the attempt fails naming what JSON cannot carry, not succeeded with another value', async (fn, names) => {
    const id = await client.submit(fn, null);
    const t = await client.wait(id, { timeout: 10_000 });
    expect(t.outcome, JSON.stringify(t.result)).toBe('failed');
    expect(t.error?.message).toMatch(names);
  });

  it("callback: a function as an object's value is left out, as JSON does (kept by design)", async () => {
    const id = await client.submit('callback', null);
    const t = await client.wait(id, { timeout: 10_000 });
    expect(t.outcome).toBe('succeeded');
    expect(t.result).toEqual({ n: 1 });
  });
});

describe('an event JSON would change', () => {
  it('task.emit refuses it to the function; no changed event reaches a follower', async () => {
    const id = client.drawId();
    const seen: TaskEvent[] = [];
    const off = client.subscribe(id, (ev) => seen.push(ev));
    await off.ready;
    await client.submit('emits', null, { id });
    await client.wait(id, { timeout: 10_000 });
    off();
    expect(emitted.find((e) => e.id === id)?.error).toMatch(/Set/);
    expect(seen.filter((ev) => ev.event === 'progress')).toEqual([]);
  });
});
