/**
 * What a task function throws is stored in words a reader can use, whatever it is:
 * - an Error, of this realm or another (a vm context, a test environment), as the Error it is:
 *   told by its brand (the [[ErrorData]] slot), not by Object.prototype.toString, which any
 *   object can steer with Symbol.toStringTag, and each of its fields read on its own, so that
 *   one whose getter throws (a lazy `name`) does not take the message with it;
 * - an object with a toString of its own or of its class, as what that says; one that says no
 *   more than Object.prototype.toString would, whatever its realm, is passed over;
 * - anything else as its JSON (a plain object, an array, a Date, an object tagged 'Error'); one
 *   JSON cannot write (a cycle) as its `message`, `name` and `code` fields, when it has a message.
 * Before: an object's own toString and another realm's Error were stored as `{}`, a tagged
 * plain object as name and message "undefined", another realm's plain object as
 * "[object Object]", and an Error with an unreadable name as "cannot be read", its message lost.
 * And bounded: each field at most 64 KiB, a mark saying how much was cut (a 5 MB message was
 * written whole, and again in the stack, to the task's hash, its history and its end event).
 */
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { boundedText, MAX_ERROR_FIELD_BYTES, MAX_RETRIED_ERROR_FIELD_BYTES, serializeError } from '../src/wire.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
/** the length of the message hugeMessage throws */
const HUGE = 5 * 1024 * 1024;
let server: RedisServer;
let client: Client;
let worker: Worker;
let prefix: string;

class Refusal {
  constructor(readonly reason: string) {}
  toString(): string {
    return `refused: ${this.reason}`;
  }
}

class LazyNamed extends Error {
  override get name(): string {
    throw new Error('not yet');
  }
}

/** an Error whose `field` getter throws */
const unreadable = (field: string, message: string) => {
  const e = new Error(message);
  Object.defineProperty(e, field, {
    get(): never {
      throw new Error(`no ${field}`);
    },
  });
  return e;
};

/** what each task function throws, and the error it is stored as */
const CASES: [string, () => unknown, Record<string, string>][] = [
  // toString's words
  ['ownToString', () => ({ toString: () => 'the disk is full' }), { name: 'Error', message: 'the disk is full' }],
  ['classToString', () => new Refusal('over quota'), { name: 'Error', message: 'refused: over quota' }],
  ['otherRealmOwnToString', () => vm.runInNewContext('({ toString() { return "the disk is full"; } })'), { name: 'Error', message: 'the disk is full' }],
  // Errors of another realm
  ['otherRealmError', () => vm.runInNewContext('(() => { const e = new TypeError("made elsewhere"); e.code = "E_ELSEWHERE"; return e; })()'), { name: 'TypeError', message: 'made elsewhere', code: 'E_ELSEWHERE' }],
  ['otherRealmTaggedError', () => vm.runInNewContext('class Custom extends Error { get [Symbol.toStringTag]() { return "Custom"; } }; const e = new Custom("made elsewhere"); e.code = "E_CUSTOM"; e'), { name: 'Error', message: 'made elsewhere', code: 'E_CUSTOM' }],
  // JSON: its fields say more than Object's toString would
  ['plainObject', () => ({ code: 'E1', detail: 'x' }), { name: 'Error', message: '{"code":"E1","detail":"x"}' }],
  ['array', () => ['a', 'b'], { name: 'Error', message: '["a","b"]' }],
  ['throwingToString', () => ({ field: 1, toString: (): never => { throw new Error('no words'); } }), { name: 'Error', message: '{"field":1}' }],
  ['otherRealmPlain', () => vm.runInNewContext('({ code: "E1", detail: "the disk is full" })'), { name: 'Error', message: '{"code":"E1","detail":"the disk is full"}' }],
  ['otherRealmClass', () => vm.runInNewContext('new (class Refusal { constructor() { this.code = "E2"; } })()'), { name: 'Error', message: '{"code":"E2"}' }],
  ['otherRealmDate', () => vm.runInNewContext('new Date(0)'), { name: 'Error', message: '"1970-01-01T00:00:00.000Z"' }],
  // only saying it is an Error
  ['taggedPlain', () => ({ [Symbol.toStringTag]: 'Error', code: 'E_TAGGED', detail: 'the disk is full' }), { name: 'Error', message: '{"code":"E_TAGGED","detail":"the disk is full"}' }],
  ['taggedClass', () => new (class LooksLikeError { readonly detail = 'over quota'; get [Symbol.toStringTag](): string { return 'Error'; } })(), { name: 'Error', message: '{"detail":"over quota"}' }],
  // a field that cannot be read: the others kept
  ['nameThrows', () => unreadable('name', 'the disk is full'), { name: 'Error', message: 'the disk is full' }],
  ['classNameThrows', () => new LazyNamed('quota exceeded'), { name: 'Error', message: 'quota exceeded' }],
  ['messageThrows', () => Object.assign(unreadable('message', 'unused'), { code: 'E_CLOSED' }), { name: 'Error', message: 'the task function gave a value that cannot be read', code: 'E_CLOSED' }],
  ['messageUndefined', () => Object.defineProperty(new TypeError('x'), 'message', { value: undefined }), { name: 'TypeError', message: '' }],
  // an error-like object JSON cannot write (it holds a cycle): its message, name and code fields
  ['cyclicErrorLike', () => {
    const e: Record<string, unknown> = { name: 'HttpError', message: 'upstream answered 502', code: 'E_UPSTREAM' };
    e.request = { owner: e };
    return e;
  }, { name: 'HttpError', message: 'upstream answered 502', code: 'E_UPSTREAM' }],
];

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  prefix = redis.keyPrefix;
  worker = new Worker({ redis, port: 0, logger: quiet });
  for (const [name, make] of CASES) {
    worker.addTaskFunction(name, () => {
      throw make();
    });
  }
  worker.addTaskFunction('loneSurrogate', () => {
    const e = new Error('bad \ud800 here');
    (e as { code?: string }).code = 'E\udc00';
    throw e;
  });
  worker.addTaskFunction('hugeMessage', () => {
    const e = new Error('x'.repeat(HUGE));
    (e as { code?: string }).code = 'E_HUGE';
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

describe('what a task function throws, as its failure stores it', () => {
  it.each(CASES.map(([fn, , error]) => [fn, error] as const))('%s is stored as %j', async (fn, error) => {
    const id = await client.submit(fn, null);
    const end = await client.wait(id, { timeout: 10_000 });
    expect(end.outcome).toBe('failed');
    expect(end.error).toEqual(expect.objectContaining(error));
    if (fn === 'otherRealmTaggedError') expect(end.error?.stack).toMatch(/made elsewhere/);
  });

  it("a lone surrogate is stored as U+FFFD: as `\\ud800` Redis's cjson refused the history that held it, which began again at each retry, every attempt before lost", async () => {
    const id = await client.submit('loneSurrogate', null, { attempts: 3 });
    const end = await client.wait(id, { timeout: 10_000 });
    expect(end.outcome).toBe('failed');
    expect(end.error).toMatchObject({ message: 'bad \ufffd here', code: 'E\ufffd' });
    const t = await client.get(id);
    expect(t!.history!.map((r) => [r.attempt, r.error?.message])).toEqual([
      [1, 'bad \ufffd here'],
      [2, 'bad \ufffd here'],
      [3, 'bad \ufffd here'],
    ]);
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

describe('what is stored of a failure is bounded', () => {
  it('a 5 MB message: message and stack stored at most 64 KiB each, a mark saying how much was cut; the hash holds no more', async () => {
    const id = await client.submit('hugeMessage', null);
    const end = await client.wait(id, { timeout: 20_000 });
    expect(end.outcome).toBe('failed');
    const { name, message, code, stack } = end.error!;
    expect({ name, code }).toEqual({ name: 'Error', code: 'E_HUGE' });
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_ERROR_FIELD_BYTES);
    expect(message).toMatch(new RegExp(`^x{60000,} … \\[cut: \\d+ more bytes, of ${HUGE}\\]$`));
    const cut = Number(/cut: (\d+) more/.exec(message)![1]);
    expect(message.indexOf(' … [cut')).toBe(HUGE - cut);
    expect(Buffer.byteLength(stack!)).toBeLessThanOrEqual(MAX_ERROR_FIELD_BYTES);
    expect(stack).toMatch(/^Error: x+ … \[cut: \d+ more bytes, of \d+\]$/);
    // (what is in Redis: the hash's fields, its history's record of the attempt included)
    const hash = await server.client().hgetall(`${prefix}task-${id}`);
    expect(hash.error).toBeDefined();
    expect(Object.values(hash).reduce((n, v) => n + Buffer.byteLength(v), 0)).toBeLessThan(6 * MAX_ERROR_FIELD_BYTES);
  });

  it("an attempt retried keeps 4 KiB a field: its task's history grows by that at each, where 64 KiB made each END a long step of Redis's", async () => {
    // (subscribed before it is queued: its `retrying` events carry the same error)
    const id = client.drawId();
    const retrying: string[] = [];
    const unsubscribe = client.subscribe(id, (ev) => {
      if (ev.event === 'retrying') retrying.push((ev.data as { error: { message: string } }).error.message);
    });
    try {
      await client.submit('hugeMessage', null, { id, attempts: 4 });
      const end = await client.wait(id, { timeout: 20_000 });
      expect(end.outcome).toBe('failed');
      // the failure that ended it: 64 KiB, as any task's
      expect(Buffer.byteLength(end.error!.message)).toBeGreaterThan(MAX_ERROR_FIELD_BYTES - 100);
      expect(Buffer.byteLength(end.error!.message)).toBeLessThanOrEqual(MAX_ERROR_FIELD_BYTES);
      // the three before it, in its history: 4 KiB a field, the mark saying of how much
      const t = await client.get(id);
      const retried = t!.history!.filter((r) => r.attempt < 4);
      expect(retried).toHaveLength(3);
      for (const r of retried) {
        const { message, stack, code } = r.error!;
        expect(code).toBe('E_HUGE');
        expect(message).toMatch(new RegExp(`^x{4000,} … \\[cut: \\d+ more bytes, of ${HUGE}\\]$`));
        expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_RETRIED_ERROR_FIELD_BYTES);
        expect(Buffer.byteLength(stack!)).toBeLessThanOrEqual(MAX_RETRIED_ERROR_FIELD_BYTES);
      }
      const history = await server.client().hget(`${prefix}task-${id}`, 'history');
      expect(Buffer.byteLength(history!)).toBeLessThan(3 * 3 * MAX_RETRIED_ERROR_FIELD_BYTES);
      expect(retrying).toHaveLength(3);
      for (const m of retrying) expect(Buffer.byteLength(m)).toBeLessThanOrEqual(MAX_RETRIED_ERROR_FIELD_BYTES);
    } finally {
      unsubscribe();
    }
  });

  it('boundedText: short text as it is; long text cut at a character, never inside a pair, with the mark, within the bound', () => {
    expect(boundedText('short', 100)).toBe('short');
    expect(boundedText('x'.repeat(100), 100)).toBe('x'.repeat(100));
    for (const unit of ['x', 'é', '€', '😀']) {
      const text = unit.repeat(1000);
      const total = Buffer.byteLength(text);
      for (let max = 60; max < 80; max++) {
        const out = boundedText(text, max);
        expect(Buffer.byteLength(out), `${unit} ${max}`).toBeLessThanOrEqual(max);
        const m = new RegExp(`^((?:${unit})*) … \\[cut: (\\d+) more bytes, of ${total}\\]$`, 'u').exec(out);
        expect(m, `${unit} ${max}: ${out}`).not.toBeNull();
        expect(Buffer.byteLength(m![1]!) + Number(m![2])).toBe(total);
      }
    }
    expect(serializeError(new Error('é'.repeat(MAX_ERROR_FIELD_BYTES))).message).toMatch(/ … \[cut: \d+ more bytes, of 131072\]$/);
  });
});
