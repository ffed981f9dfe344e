/**
 * A plain object (or a Date) thrown from another realm, a vm context or a test environment, has
 * that realm's Object.prototype.toString (and Date's), not this one's: the check for an object's
 * "own" toString took it for one, and the failure was stored as "[object Object]" where its JSON
 * had said what it held ({"code":"E1",...}). A toString that says no more than
 * Object.prototype.toString would ("[object Object]", "[object Promise]") is no words of the
 * object's own, whatever its realm; a Date is told by its brand and stored as its JSON.
 */
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let server: RedisServer;
let client: Client;
let worker: Worker;

const THROWS: Record<string, () => unknown> = {
  otherRealmPlain: () => vm.runInNewContext('({ code: "E1", detail: "the disk is full" })'),
  otherRealmClass: () => vm.runInNewContext('new (class Refusal { constructor() { this.code = "E2"; } })()'),
  otherRealmDate: () => vm.runInNewContext('new Date(0)'),
  // an own toString that still says words is taken, from whichever realm
  otherRealmOwnToString: () => vm.runInNewContext('({ toString() { return "the disk is full"; } })'),
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

describe('a value thrown from another realm', () => {
  it.each([
    ['otherRealmPlain', { name: 'Error', message: '{"code":"E1","detail":"the disk is full"}' }],
    ['otherRealmClass', { name: 'Error', message: '{"code":"E2"}' }],
    ['otherRealmDate', { name: 'Error', message: '"1970-01-01T00:00:00.000Z"' }],
    ['otherRealmOwnToString', { name: 'Error', message: 'the disk is full' }],
  ])('%s is stored as %j', async (fn, error) => {
    const id = await client.submit(fn, null);
    const end = await client.wait(id, { timeout: 10_000 });
    expect(end.outcome).toBe('failed');
    expect(end.error).toMatchObject(error);
  });
});
