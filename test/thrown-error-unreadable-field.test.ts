/**
 * An Error thrown by a task function with one field that cannot be read (a getter that throws:
 * a `name` worked out lazily, a `message` from a closed resource) is stored with its other fields:
 * the failure keeps its message when only its name is unreadable. The whole error was stored as
 * "the task function gave a value that cannot be read", its message lost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let server: RedisServer;
let client: Client;
let worker: Worker;

const throwingGetter = (field: string, message: string) => {
  const e = new Error(message);
  Object.defineProperty(e, field, {
    get(): never {
      throw new Error(`no ${field}`);
    },
  });
  return e;
};

class LazyNamed extends Error {
  override get name(): string {
    throw new Error('not yet');
  }
}

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  worker = new Worker({ redis, port: 0, logger: quiet });
  worker.addTaskFunction('nameThrows', () => {
    throw throwingGetter('name', 'the disk is full');
  });
  worker.addTaskFunction('classNameThrows', () => {
    throw new LazyNamed('quota exceeded');
  });
  worker.addTaskFunction('messageThrows', () => {
    const e = throwingGetter('message', 'unused');
    (e as { code?: string }).code = 'E_CLOSED';
    throw e;
  });
  worker.addTaskFunction('messageUndefined', () => {
    const e = new TypeError('x');
    Object.defineProperty(e, 'message', { value: undefined });
    throw e;
  });
  await worker.start();
  client = new Client({ redis, logger: quiet });
});
afterAll(async () => {
  await client.close();
  await worker.stop();
  await server.stop();
});

describe('an Error with a field that cannot be read', () => {
  it.each([
    ['nameThrows', { name: 'Error', message: 'the disk is full' }],
    ['classNameThrows', { name: 'Error', message: 'quota exceeded' }],
    ['messageThrows', { name: 'Error', message: 'the task function gave a value that cannot be read', code: 'E_CLOSED' }],
    ['messageUndefined', { name: 'TypeError', message: '' }],
  ])('%s is stored as %j, its other fields kept', async (fn, error) => {
    const id = await client.submit(fn, null);
    const end = await client.wait(id, { timeout: 10_000 });
    expect(end.outcome).toBe('failed');
    expect(end.error).toMatchObject(error);
  });
});
