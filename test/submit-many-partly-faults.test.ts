/**
 * A submitMany that failed after part of it ran, attacked with real Redis faults: what its
 * PartlySubmittedError says of each task must be true of Redis (test/submit-many-partly.test.ts
 * has the plain cases). Each of the first four failed before its fix:
 * - a batch that ran, its answer lost with the connection, sent again by ioredis and refused then
 *   (out of memory): listed "not submitted" (a refusal read as "never ran"), or, a batch alone,
 *   told as the bare OOM refusal;
 * - a batch sent again that found its own tasks, the read that recognises them unanswered (Redis
 *   frozen): a DuplicateTaskError, the batch "not submitted" (a failed read read as "another's");
 * - a batch refused whole for a taken id, with two tasks of one dedupe key: one "submitted" (as
 *   the other's id), though nothing was written.
 * The last two held: close() during the batches, and a Redis restart (AOF) between a batch's
 * run and its answer. A lone submit, sent again and refused so, was told as the bare refusal too.
 */
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, PartlySubmittedError, RedisUnavailableError } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer | undefined;
let proxy: TcpProxy | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  await proxy?.close();
  proxy = undefined;
  await server?.stop();
  server = undefined;
});

/** the ids of `ids` Redis holds a task for (a read on its own connection) */
async function held(c: Client, ids: readonly string[]): Promise<string[]> {
  const found = await Promise.all(ids.map(async (id) => ((await c.get(id)) ? id : undefined)));
  return found.filter((id): id is string => id !== undefined);
}

async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => undefined,
    (x: unknown) => x,
  );
}


/** FCALLs Redis has run so far */
async function fcalls(admin: Redis): Promise<number> {
  const line = (await admin.info('commandstats')).split('\r\n').find((l) => l.startsWith('cmdstat_fcall:'));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

/** a Redis, a proxy before it (to lose answers), a client through the proxy that has submitted once, and its keys */
async function throughProxy() {
  server = await startRedis();
  const admin: Redis = server.client();
  proxy = await startProxy('127.0.0.1', server.port);
  const o = server.options();
  const client = new Client({ redis: { ...o, port: proxy.port } });
  clients.push(client);
  await client.submit('f', 'warm-up');
  return { admin, client, o, keys: keysFor(o.keyPrefix) };
}

/**
 * `call` made with every chunk 300 ms each way through the proxy: once `queued` tasks are on
 * new-task (what it writes has run, its answer on its way back), Redis fills up (maxmemory) and
 * the connection is cut, so what ioredis sends again at the reconnect is refused before it runs.
 * Resolves with what the call rejected with (undefined if it resolved).
 */
async function answerLostThenRefused(s: { admin: Redis; keys: { newQueue: string } }, call: () => Promise<unknown>, queued: number): Promise<unknown> {
  proxy!.delay(300);
  const made = failure(call());
  await until(async () => (await s.admin.llen(s.keys.newQueue)) === queued, 'the call to run', 10_000, 5);
  await s.admin.config('SET', 'maxmemory-policy', 'noeviction');
  await s.admin.config('SET', 'maxmemory', '1');
  proxy!.reset();
  await new Promise((r) => setTimeout(r, 100));
  proxy!.heal();
  const e = await made;
  await s.admin.config('SET', 'maxmemory', '0');
  return e;
}

describe('a submitMany whose batch ran and whose answer was lost', () => {
  it('sent again by ioredis after the reconnect and refused then (out of memory): the batch that ran is not told "not submitted"', async () => {
    const t = await throughProxy();
    const reader = new Client({ redis: t.o });
    clients.push(reader);
    const tasks = Array.from({ length: 1500 }, (_, i) => ({ fn: 'f', data: i }));
    // (the second batch's answer lost)
    const e = await answerLostThenRefused(t, () => t.client.submitMany(tasks), 1501);
    const { admin, keys } = t;

    // every task is queued: the call did all it was for (or, at most, cannot know of its last batch)
    expect(await admin.llen(keys.newQueue)).toBe(1501);
    expect(e).toBeDefined();
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    expect(await held(reader, p.notSubmitted)).toEqual([]);
    expect(p.submitted).toEqual(p.ids.slice(0, 1000));
    expect(p.unknown).toEqual(p.ids.slice(1000));
  }, 30_000);
  it('one batch alone, sent again and refused then (out of memory): it is not told as a plain refusal, which says it did not run', async () => {
    const t = await throughProxy();
    const e = await answerLostThenRefused(t, () => t.client.submitMany(Array.from({ length: 500 }, (_, i) => ({ fn: 'f', data: i }))), 501);
    const { admin, keys } = t;

    expect(await admin.llen(keys.newQueue)).toBe(501);
    expect(e).toBeDefined();
    // (a refusal for memory, told as it is, says the call did not run: made again, its tasks are queued twice)
    expect((e as Error).message).not.toMatch(/^OOM /);
    expect((e as Error).message).toMatch(/may (still )?(run|have run)/);
  }, 30_000);
});

describe('a lone submit whose answer was lost', () => {
  it('sent again by ioredis after the reconnect and refused then (out of memory): it is not told as a plain refusal, which says it did not run', async () => {
    const t = await throughProxy();
    const e = await answerLostThenRefused(t, () => t.client.submit('f', 'lone'), 2);
    const { admin, keys } = t;

    expect(await admin.llen(keys.newQueue)).toBe(2);
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expect((e as Error).message).toMatch(/^submit: its answer lost with the connection, it was sent again and refused then \(OOM .*\): its first sending may have run$/);
  }, 30_000);
});

describe('a submitMany whose batch ran, was sent again and found its own tasks', () => {
  it('and the read that recognises them got no answer (Redis frozen): the batch is not told "not submitted", nor its ids taken by another task', async () => {
    server = await startRedis();
    const admin: Redis = server.client();
    proxy = await startProxy('127.0.0.1', server.port);
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const client = new Client({ redis: { ...o, port: proxy.port } });
    clients.push(client);
    await client.submit('f', 'warm-up');
    const tasks = Array.from({ length: 1500 }, (_, i) => ({ fn: 'f', data: i }));

    // the second batch runs and its answer is lost with its connection: ioredis sends it again,
    // which finds its tasks there (taken), and the client reads whether they are its own...
    proxy.delay(300);
    const call = failure(client.submitMany(tasks));
    await until(async () => (await admin.llen(keys.newQueue)) === 1501, 'the second batch to run', 10_000, 5);
    const ran = await fcalls(admin);
    proxy.reset();
    await new Promise((r) => setTimeout(r, 100));
    proxy.heal();
    proxy.delay(300);
    await until(async () => (await fcalls(admin)) > ran, 'the second batch sent again', 10_000, 5);
    // ...when Redis freezes: that read is never answered (the reply to the batch sent again is
    // on its way: written by Redis, held 300 ms by the link; the read reaches Redis 600 ms after)
    await new Promise((r) => setTimeout(r, 50));
    server.freeze();
    let e: unknown;
    try {
      e = await call;
    } finally {
      server.thaw();
    }

    expect(await admin.llen(keys.newQueue)).toBe(1501);
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    expect(p.cause).not.toHaveProperty('code', 'ERR_DUPLICATE_TASK');
    expect(p.submitted).toEqual(p.ids.slice(0, 1000));
    expect(p.notSubmitted).toEqual([]);
    expect(p.unknown).toEqual(p.ids.slice(1000));
  }, 30_000);
});

describe('a submitMany refused whole for a taken id', () => {
  it('one batch, two tasks of one dedupe key beside the taken id: nothing is written, and it is told as the DuplicateTaskError, not as a task submitted', async () => {
    server = await startRedis();
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const admin: Redis = server.client();
    const client = new Client({ redis: o });
    clients.push(client);
    await client.submit('f', 'another producer', { id: 'x' });

    const e = await failure(
      client.submitMany([
        { fn: 'f', data: 1, options: { id: 'x' } },
        { fn: 'f', data: 2, options: { id: 'a', key: 'k' } },
        { fn: 'f', data: 3, options: { id: 'b', key: 'k' } },
      ]),
    );

    expect(await client.get('a')).toBeNull();
    expect(await client.get('b')).toBeNull();
    expect(await admin.hlen(keys.newQueue + ':keys')).toBe(0);
    expect(e).not.toBeInstanceOf(PartlySubmittedError);
    expect(e).toHaveProperty('code', 'ERR_DUPLICATE_TASK');
  });
});

describe('a submitMany cut short', () => {
  it('by close() while its batches go out one after another: what it says of each task is true', async () => {
    server = await startRedis();
    proxy = await startProxy('127.0.0.1', server.port);
    const o = server.options();
    const client = new Client({ redis: { ...o, port: proxy.port } });
    const reader = new Client({ redis: o });
    clients.push(reader);
    await client.submit('f', 'warm-up');
    const tasks = Array.from({ length: 5000 }, (_, i) => ({ fn: 'f', data: i }));
    proxy.delay(200);
    const call = failure(client.submitMany(tasks));
    await new Promise((r) => setTimeout(r, 500));
    await client.close();
    const e = await call;
    proxy.heal();
    await new Promise((r) => setTimeout(r, 500));
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    expect(p.ids).toHaveLength(5000);
    expect(await held(reader, p.submitted)).toEqual(p.submitted);
    expect(await held(reader, p.notSubmitted)).toEqual([]);
    expect(p.submitted.length).toBeGreaterThan(0);
  }, 30_000);
});

describe('a submitMany across a Redis restart (AOF)', () => {
  it('its second batch ran, Redis killed before the answer and started again: sent again, it finds its own tasks, every task queued once', async () => {
    server = await startRedis({ appendonly: true });
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    proxy = await startProxy('127.0.0.1', server.port);
    const client = new Client({ redis: { ...o, port: proxy.port } });
    clients.push(client);
    await client.submit('f', 'warm-up');
    const tasks = Array.from({ length: 1500 }, (_, i) => ({ fn: 'f', data: i }));
    const admin = server.client();
    proxy.delay(300);
    const call = client.submitMany(tasks).then(
      (ids) => ({ ids }),
      (error: unknown) => ({ error }),
    );
    await until(async () => (await admin.llen(keys.newQueue)) === 1501, 'the second batch to run', 10_000, 5);
    await server.restart();
    proxy.heal();
    const outcome = await call;
    const after = server.client();
    expect(await after.llen(keys.newQueue)).toBe(1501);
    expect(outcome).toHaveProperty('ids');
  }, 30_000);
});
