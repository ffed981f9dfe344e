/**
 * What a task function throws that is not an Error of this realm is stored in words a reader
 * can use: an object with a toString of its own (a class of the user's, `{ toString() {...} }`)
 * as what its toString says, and an Error made in another realm (a vm context, a test
 * environment) as the Error it is. Both were stored as their JSON, `{}`: the failure said
 * nothing of why.
 */
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let server: RedisServer;
let client: Client;
let worker: Worker;

class Refusal {
  constructor(readonly reason: string) {}
  toString(): string {
    return `refused: ${this.reason}`;
  }
}

const THROWS: Record<string, () => unknown> = {
  ownToString: () => ({ toString: () => 'the disk is full' }),
  classToString: () => new Refusal('over quota'),
  otherRealmError: () => vm.runInNewContext('(() => { const e = new TypeError("made elsewhere"); e.code = "E_ELSEWHERE"; return e; })()'),
  // what stays JSON: its fields say more than Object's toString would
  plainObject: () => ({ code: 'E1', detail: 'x' }),
  array: () => ['a', 'b'],
  // a toString that throws is passed over, and the object stored as its JSON
  throwingToString: () => ({
    field: 1,
    toString(): string {
      throw new Error('no words');
    },
  }),
};

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  worker = new Worker({ redis, port: 0, logger: quiet });
  for (const [name, make] of Object.entries(THROWS)) {
    worker.addTaskFunction(name, () => {
      throw make();
    });
  }
  await worker.start();
  client = new Client({ redis, logger: quiet });
});
afterAll(async () => {
  await client.close();
  await worker.stop();
  await server.stop();
});

describe('a thrown value that is not an Error of this realm', () => {
  it.each([
    ['ownToString', { name: 'Error', message: 'the disk is full' }],
    ['classToString', { name: 'Error', message: 'refused: over quota' }],
    ['otherRealmError', { name: 'TypeError', message: 'made elsewhere', code: 'E_ELSEWHERE' }],
    ['plainObject', { name: 'Error', message: '{"code":"E1","detail":"x"}' }],
    ['array', { name: 'Error', message: '["a","b"]' }],
    ['throwingToString', { name: 'Error', message: '{"field":1}' }],
  ])('%s is stored as %j', async (fn, error) => {
    const id = await client.submit(fn, null);
    const end = await client.wait(id, { timeout: 10_000 });
    expect(end.outcome).toBe('failed');
    expect(end.error).toMatchObject(error);
  });
});
