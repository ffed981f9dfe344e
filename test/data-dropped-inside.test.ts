/**
 * Data JSON cannot carry is refused at the top (a function, a Symbol, a BigInt, NaN) and a NaN or
 * an infinity is refused anywhere inside ("which JSON would write as null"). A function, a
 * Symbol or undefined inside an array, and a function or a Symbol as an object's value, are
 * changed the same way without a word: JSON.stringify writes them as null, or leaves the key
 * out; a Map or a Set with entries is written as {}. The worker then gets other data than was
 * submitted. Each must be refused as the NaN is, naming where it is, with nothing written.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, InvalidTaskError } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let client: Client;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  client = new Client({ redis: server.options() });
});
afterAll(async () => {
  await client.close();
  await server.stop();
});

const fn = () => 1;
const CHANGED: [string, unknown, RegExp][] = [
  ['a function inside an array (written as null)', { list: [1, fn] }, /function/],
  ['undefined inside an array (written as null)', [1, undefined, 3], /undefined/],
  ['a Symbol inside an array (written as null)', ['a', Symbol('s')], /Symbol/],
  ["a function as an object's value (left out)", { onDone: fn, n: 1 }, /function.*onDone|onDone.*function/],
  ["a Symbol as an object's value (left out)", { kind: Symbol('k'), n: 1 }, /Symbol.*kind|kind.*Symbol/],
  ['a Map with entries (written as {})', { index: new Map([['a', 1]]) }, /Map/],
  ['a Set with members (written as {})', { tags: new Set(['x', 'y']) }, /Set/],
];

describe('data whose JSON is not what was submitted, inside the value', () => {
  it.each(CHANGED)('submit refuses %s, naming it, and writes nothing', async (_what, data, names) => {
    const before = await redis.dbsize();
    const e = await client.submit('echo', data).then(
      (id) => id,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(InvalidTaskError);
    expect((e as Error).message).toMatch(names);
    expect(await redis.dbsize()).toBe(before);
  });
});
