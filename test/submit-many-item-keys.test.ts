/**
 * `submitMany` items are { fn, data?, options? }. Every other options object of the Client
 * refuses a key it does not know (submit's options, wait, deadLetters, drawId, setLimit), since
 * it is usually a typo; an item's own keys are not checked, so `{ fn: 'resize', date: {...} }`
 * (date for data) or `{ fn, opts: { priority: 9 } }` is queued with no data, or no options,
 * nothing said: what was meant for the task is lost. And two items with the same id in one call
 * are refused as "task id "x" is already in use (queued, running or ended and retained)", which
 * sends the user to look for a task in Redis that is not there: the call gave it twice.
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

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

describe('submitMany items', () => {
  it.each([
    ['date (for data)', { fn: 'resize', date: { url: 'a.png' } }, /date/],
    ['opts (for options)', { fn: 'resize', data: 1, opts: { priority: 9 } }, /opts/],
  ])('an item with an unknown key, %s, is refused naming it, nothing written', async (_what, item, names) => {
    const before = await redis.dbsize();
    const e = await failure(client.submitMany([{ fn: 'resize', data: 0 }, item as never]));
    expect(e).toBeInstanceOf(InvalidTaskError);
    expect(e?.message).toMatch(/submitMany\[1\]/);
    expect(e?.message).toMatch(names);
    expect(await redis.dbsize()).toBe(before);
  });

  it('two items with the same id are refused as given twice in the call, not as an id in use', async () => {
    const e = await failure(
      client.submitMany([
        { fn: 'resize', data: 1, options: { id: 'twice' } },
        { fn: 'mail', data: 2, options: { id: 'twice' } },
      ]),
    );
    expect(e).toBeInstanceOf(Error);
    expect(e?.message).toMatch(/submitMany\[1\]|twice in|more than once|\[0\] and \[1\]/);
    expect(e?.message).not.toMatch(/already in use/);
  });
});
