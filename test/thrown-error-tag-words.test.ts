/**
 * An Error of another realm is told by its brand (the [[ErrorData]] slot), not by
 * Object.prototype.toString, which any object can steer with Symbol.toStringTag: a plain object
 * tagged 'Error' (a library's error-like record, an Error look-alike) was stored as an Error whose
 * name and message read "undefined", where its JSON had said what it held; and a Proxy whose
 * get trap throws was stored as a value that cannot be read at all, where its JSON's refusal had
 * been told. An Error of another realm whose class names itself otherwise (its own toStringTag)
 * is the Error it is, with its name, message and stack, not its toString's one line.
 */
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { serializeError } from '../src/wire.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let server: RedisServer;
let client: Client;
let worker: Worker;

const THROWS: Record<string, () => unknown> = {
  taggedPlain: () => ({ [Symbol.toStringTag]: 'Error', code: 'E_TAGGED', detail: 'the disk is full' }),
  taggedClass: () =>
    new (class LooksLikeError {
      readonly detail = 'over quota';
      get [Symbol.toStringTag](): string {
        return 'Error';
      }
    })(),
  otherRealmTagged: () => vm.runInNewContext('class Custom extends Error { get [Symbol.toStringTag]() { return "Custom"; } }; const e = new Custom("made elsewhere"); e.code = "E_CUSTOM"; e'),
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

describe('a thrown value that only says it is an Error', () => {
  it.each([
    ['taggedPlain', { name: 'Error', message: '{"code":"E_TAGGED","detail":"the disk is full"}' }],
    ['taggedClass', { name: 'Error', message: '{"detail":"over quota"}' }],
    ['otherRealmTagged', { name: 'Error', message: 'made elsewhere', code: 'E_CUSTOM' }],
  ])('%s is stored as %j', async (fn, error) => {
    const id = await client.submit(fn, null);
    const end = await client.wait(id, { timeout: 10_000 });
    expect(end.outcome).toBe('failed');
    expect(end.error).toMatchObject(error);
    expect(end.error?.name).not.toBe('undefined');
    expect(end.error?.message).not.toBe('undefined');
    if (fn === 'otherRealmTagged') expect(end.error?.stack).toMatch(/made elsewhere/);
  });

  it('a Proxy whose get trap throws is told as JSON refused it, its traps not run by the brand check', () => {
    const reads: PropertyKey[] = [];
    const p = new Proxy(
      {},
      {
        get(_t, k) {
          reads.push(k);
          throw new Error('trap');
        },
      },
    );
    expect(serializeError(p)).toEqual({ name: 'Error', message: 'an object JSON cannot write' });
    expect(reads).not.toContain(Symbol.toStringTag);
  });
});
