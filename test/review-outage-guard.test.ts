/**
 * The Client's outage guard at its edges: a call that was waiting for a connection when Redis
 * returns is sent then, whatever the outage's length; a call written to Redis before its
 * connection closed is said to maybe run (it does); a pipeline is refused or queued whole, so
 * the connection's replies stay matched to their calls; a call whose reply was lost with its
 * connection is not answered as if another call had run.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { resolveRedisConfig } from '../src/config.js';
import { guardOutage } from '../src/outage-guard.js';
import { connect } from '../src/redis.js';
import { Client, RedisUnavailableError } from '../src/index.js';
import { clientThroughProxy, clientWithRedisKilled } from './helpers/client-down.js';
import { startRedis, until } from './helpers/redis-server.js';
import { replyLost, startProxy, type TcpProxy } from './helpers/tcp-proxy.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a Client call waiting for a connection when Redis returns', () => {
  it('is sent at the reconnect and succeeds, though the outage lasted longer than the patience', async () => {
    const { server, c } = await clientWithRedisKilled(cleanup);
    // made 1 s before the patience is up: it waits in the queue (its own patience runs to ~19 s)
    await sleep(CLIENT_PATIENCE_MS - 1000);
    const waiting = c.submit('x', 'waiting', { id: 'queued-before-patience' }).then(
      (id) => ({ id }),
      (error: unknown) => ({ error }),
    );
    await sleep(1300);
    // Redis returns ~10.3 s into the outage; the reconnect follows within its 1 s backoff
    await server.start();
    expect(await waiting).toEqual({ id: 'queued-before-patience' });
    expect(await c.get('queued-before-patience')).toMatchObject({ state: 'QUEUED' });
  }, 40_000);
});

describe('Client calls made one after another during an outage', () => {
  it('each waits its own patience: one made early fails at its deadline, one made later is sent at the reconnect', async () => {
    const { server, c } = await clientWithRedisKilled(cleanup);
    const settled = (p: Promise<string>) =>
      p.then(
        (id) => ({ id }),
        (error: unknown) => ({ error: (error as Error).message }),
      );
    const made = performance.now();
    // (not answered before Redis returns: held behind it, the later ones used to share its fate)
    const early = settled(c.submit('x', 'early', { id: 'made-early' }));
    const fetched = settled(c.get('made-early').then((t) => t?.state ?? 'none'));
    await sleep(CLIENT_PATIENCE_MS - 1000);
    const later = settled(c.submit('x', 'later', { id: 'made-later' }));
    const early2 = await early;
    expect(early2).toEqual({ error: expect.stringMatching(/nothing was sent/) });
    expect(performance.now() - made).toBeLessThan(CLIENT_PATIENCE_MS + 1500);
    expect(await fetched).toEqual({ error: expect.stringMatching(/nothing was sent/) });
    await sleep(300);
    await server.start();
    expect(await later).toEqual({ id: 'made-later' });
    expect(await c.get('made-later')).toMatchObject({ state: 'QUEUED' });
    expect(await c.get('made-early')).toBeNull();
  }, 40_000);
});


/**
 * The network goes silent: `written()` is written (its answer never comes) and `held()`, made
 * after it, waits behind it in ioredis's auto-pipeline; then the connection is reset, and the
 * reconnects hang (the network silent again). Their calls, settled or not.
 */
async function closeBehindWrittenCall<A, B>(proxy: TcpProxy, written: () => Promise<A>, held: () => Promise<B>): Promise<[Promise<A>, Promise<B>]> {
  proxy.partition();
  const first = written();
  first.catch(() => {});
  await sleep(200);
  const second = held();
  second.catch(() => {});
  await sleep(200);
  proxy.reset();
  proxy.partition();
  return [first, second];
}

describe('Client calls made after the connection closed, while a call written before it waits for its answer', () => {
  it('each waits its own patience, not behind that call', async () => {
    const { proxy, c } = await clientThroughProxy(cleanup);
    const id = await c.submit('nobody-serves-this', 1);
    await closeBehindWrittenCall(proxy, () => c.cancel(id), () => c.cancel(id));
    await sleep(1000);
    const made = performance.now();
    const after = await c.cancel(id).then(
      () => performance.now(),
      () => performance.now(),
    );
    expect(after - made).toBeLessThan(CLIENT_PATIENCE_MS + 2000);
  }, 40_000);
});

describe('a Client call held behind one written before the connection closed, and one made after the close', () => {
  it('reach Redis in the order they were made: a cancel, then a submit with its dedupe key, finds the key free', async () => {
    const { proxy, c } = await clientThroughProxy(cleanup);
    const other = await c.submit('nobody-serves-this', 1);
    const old = await c.submit('nobody-serves-this', 'old', { key: 'k' });
    const [written, cancelled] = await closeBehindWrittenCall(proxy, () => c.cancel(other), () => c.cancel(old));
    await sleep(500);
    const fresh = c.submit('nobody-serves-this', 'new', { key: 'k' });
    await sleep(500);
    proxy.heal();
    expect(await written).toBe('cancelled');
    expect(await cancelled).toBe('cancelled');
    expect(await fresh).not.toBe(old);
  }, 30_000);
});

describe('Client calls made while Redis is frozen (its connection open, nothing answered)', () => {
  it('each waits its own patience, not behind the batch written first; and, Redis awake again, calls go through in the order they were made', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('nobody-serves-this', 1);
    server.freeze();
    cleanup.push(() => server.thaw());
    const settled = <T>(p: Promise<T>) =>
      p.then(
        () => performance.now(),
        () => performance.now(),
      );
    // written, and never answered: ioredis holds every later batch behind it
    const first = settled(c.cancel(id));
    await sleep(3000);
    const made = performance.now();
    const later = settled(c.cancel(id));
    await first;
    // (it waited for the first batch's patience, then its own: 17 s after it was made)
    expect((await later) - made).toBeLessThan(CLIENT_PATIENCE_MS + 2000);

    // a freeze shorter than the patience: what was made during it runs, in the order it was made
    server.thaw();
    // (refused, nothing sent, until Redis's first answer reaches the client: test/client-frozen-fails-fast.test.ts)
    await until(() => c.submit('nobody-serves-this', 2), 'Redis to answer again', 3000);
    server.freeze();
    const during = Array.from({ length: 20 }, (_, i) => c.submit('nobody-serves-this', i, { id: `during-${i}` }));
    await sleep(1500);
    const moreDuring = Array.from({ length: 20 }, (_, i) => c.submit('nobody-serves-this', 20 + i, { id: `during-${20 + i}` }));
    await sleep(500);
    server.thaw();
    expect(await Promise.all([...during, ...moreDuring])).toEqual(Array.from({ length: 40 }, (_, i) => `during-${i}`));
    const queue = await server.client().lrange(`${o.keyPrefix}new-task`, 0, -1);
    const order = queue.map((e) => (JSON.parse(e) as { id: string }).id).filter((x) => x.startsWith('during-')).reverse();
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => `during-${i}`));
    // and its calls are batched again, Redis answering
    const conn = (c as unknown as { redis: { options: { enableAutoPipelining: boolean } } }).redis;
    await until(async () => (conn.options.enableAutoPipelining ? true : undefined), 'auto-pipelining on again', 3000);
  }, 40_000);
});

describe('a Client call written to a Redis that froze, when the client closes', () => {
  it('fails saying it may still run, not that it waited for a connection, and it does run when Redis wakes', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const c = new Client({ redis: o });
    await c.submit('x', 1);
    server.freeze();
    cleanup.push(() => server.thaw());
    const written = c.submit('x', 'written', { id: 'written-to-frozen' }).then(
      (id) => ({ id }),
      (error: unknown) => ({ error }),
    );
    await sleep(300);
    await c.close();
    const outcome = await written;
    expect(outcome).toHaveProperty('error');
    const message = ((outcome as { error: Error }).error).message;
    server.thaw();
    const reader = new Client({ redis: o });
    cleanup.push(() => reader.close());
    const ran = await until(async () => ((await reader.get('written-to-frozen')) ? true : undefined), 'the submit to run', 3000).catch(() => false);
    expect(ran).toBe(true);
    expect(message).toMatch(/may (still )?(have )?run/);
    expect(message).not.toMatch(/nothing was sent|waiting for a connection/);
  }, 30_000);
});

describe('a Client call whose reply is lost with its connection', () => {
  it('is not sent again at the reconnect: a submit that ran is not refused as a duplicate of itself', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const o = server.options();
    const c = new Client({ redis: { ...o, port: proxy.port } });
    cleanup.push(() => c.close());
    await c.submit('x', 1);
    // the call reaches Redis and runs; its reply is on its way back when the connection drops
    const lost = await replyLost(proxy, () => c.submit('x', 'once', { id: 'reply-lost' }));
    const settled = 'error' in lost ? lost : { id: lost.result };
    const reader = new Client({ redis: o });
    cleanup.push(() => reader.close());
    expect(await reader.get('reply-lost')).toMatchObject({ state: 'QUEUED' });
    // told it ran, or told it may have: never that its own task's id is taken
    if ('error' in settled) expect((settled.error as Error).message).toMatch(/may (still )?(have )?run/);
    else expect(settled).toEqual({ id: 'reply-lost' });
  }, 30_000);
});

describe('a Client cancel whose reply is lost with its connection', () => {
  // ioredis resends a written call whose connection closed before its reply
  // (autoResendUnfulfilledCommands), so the cancel runs twice. It answered what the second run
  // found ('ended'); each cancel now carries a token kept on the task it cancels, and its second
  // run knows its own cancel (cancel.lua).
  it("answers what its one run did (cancelled), or that it may have run: never that the task had already ended", async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const proxy = await startProxy('127.0.0.1', server.port);
    cleanup.push(() => proxy.close());
    const o = server.options();
    const c = new Client({ redis: { ...o, port: proxy.port } });
    cleanup.push(() => c.close());
    const id = await c.submit('nobody-serves-this', 1);
    const settled = await replyLost(proxy, () => c.cancel(id));
    const reader = new Client({ redis: o });
    cleanup.push(() => reader.close());
    expect(await reader.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
    if ('error' in settled) expect((settled.error as Error).message).toMatch(/may (still )?(have )?run/);
    else expect(settled).toEqual({ result: 'cancelled' });
  }, 30_000);
});

describe('a guarded connection: a pipeline made as the patience runs out', () => {
  it('is refused or queued whole, so every later reply still goes to its own call', async () => {
    const server = await startRedis({ appendonly: true });
    cleanup.push(() => server.stop());
    const config = resolveRedisConfig(server.options());
    const redis = connect(config, 'command', 'review-guard', { lazyConnect: false, maxRetriesPerRequest: 20 });
    redis.on('error', () => {});
    cleanup.push(() => redis.disconnect());
    const patience = 1000;
    cleanup.push(guardOutage(redis, config, patience));
    await redis.set('k', 'mine');
    const pipe = redis.pipeline();
    for (let i = 0; i < 100_000; i++) pipe.exists(`none-${i}`);
    await server.kill();
    await sleep(patience - 40);
    // one pipeline long enough (a few hundred ms of sendCommand calls) that the patience runs
    // out while its commands are handed over: the first wait for a connection, the rest fail
    const piped = pipe.exec().then(
      (r) => `ran: ${r?.filter(([e]) => !e).length} answered, ${r?.filter(([e]) => e).length} failed`,
      (e: unknown) => String(e),
    );
    await server.start();
    await until(async () => ((await redis.ping().catch(() => undefined)) === 'PONG' ? true : undefined), 'the connection back', 10_000).catch(() => undefined);
    await piped;
    const answer = await Promise.race([redis.get('k'), sleep(3000).then(() => 'no answer in 3 s')]).catch((e: unknown) => String(e));
    expect(answer).toBe('mine');
  }, 60_000);
});

describe('a guarded connection: many calls waiting for a connection, overdue together', () => {
  it('fails every overdue one sending nothing; the calls made after them stay queued, in order, and run when Redis returns', async () => {
    const server = await startRedis({ appendonly: true });
    cleanup.push(() => server.stop());
    const config = resolveRedisConfig(server.options());
    // (no auto-pipeline: each call its own item in the queue, as a busy producer's calls of many
    // ticks; reconnects every 50 ms, so that the late calls' time left once the early ones have
    // failed is spent starting Redis, not in a reconnect's backoff)
    const redis = connect(config, 'command', 'review-guard-many', { lazyConnect: false, enableAutoPipelining: false, maxRetriesPerRequest: null, retryStrategy: () => 50 });
    redis.on('error', () => {});
    cleanup.push(() => redis.disconnect());
    const patience = 4000;
    cleanup.push(guardOutage(redis, config, patience));
    await redis.del('log');
    const killedAt = performance.now();
    await server.kill();
    const settle = (p: Promise<unknown>) => p.then(() => 'ran', (e: unknown) => (e as Error).message);
    // early: overdue together at one deadline check (made within a few ms of each other). Each
    // failing used to look through the whole queue: 40,000 failed ~10 s past their patience,
    // the event loop held for seconds at a time
    const madeAt = performance.now();
    const early = Array.from({ length: 40_000 }, (_, i) => settle(redis.rpush('log', `early-${i}`)));
    // late: made three quarters of a patience into the outage, counted from the kill (from when
    // the early calls were made, their making's time on a loaded machine put the late ones past
    // the outage's patience: refused at once), still queued when the early ones fail, with the
    // rest of theirs to wait for Redis (under a loaded CI, less was not enough to fail the early
    // ones and start Redis again)
    await sleep(Math.max(0, killedAt + patience * 0.75 - performance.now()));
    const late = Array.from({ length: 50 }, (_, i) => settle(redis.rpush('log', `late-${i}`)));
    const earlyOutcomes = await Promise.all(early);
    // (at their deadline, not seconds after it: a bound far above the few ms it takes)
    expect(performance.now() - madeAt).toBeLessThan(patience + 3000);
    expect(earlyOutcomes.filter((m) => !/nothing was sent/.test(m))).toEqual([]);
    await server.start();
    expect(await Promise.all(late)).toEqual(late.map(() => 'ran'));
    // the early calls never ran; the late ones ran once each, in the order made
    expect(await redis.lrange('log', 0, -1)).toEqual(late.map((_, i) => `late-${i}`));
  }, 60_000);
});

describe('a guarded connection: calls failed together at one deadline check', () => {
  // ioredis writes on the error a MULTI fails with the errors of its commands (previousErrors):
  // an error shared by every call failed at the check listed itself there, and showed on the
  // error of every other call failed with it
  for (const fault of ['killed', 'frozen'] as const) {
    it(`each fails with an error of its own, a MULTI's listing its commands' errors, not itself (Redis ${fault})`, async () => {
      const server = await startRedis({ appendonly: true });
      cleanup.push(() => server.stop());
      const config = resolveRedisConfig(server.options());
      const redis = connect(config, 'command', `review-guard-errors-${fault}`, { lazyConnect: false, maxRetriesPerRequest: null });
      redis.on('error', () => {});
      cleanup.push(() => redis.disconnect());
      const patience = 1000;
      cleanup.push(guardOutage(redis, config, patience));
      await redis.del('log');
      if (fault === 'killed') await server.kill();
      else {
        server.freeze();
        cleanup.push(() => server.thaw());
      }
      const failed = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as Error & { previousErrors?: unknown[] });
      const [plain, multi] = await Promise.all([failed(redis.rpush('log', 'plain')), failed(redis.multi().rpush('log', 'multi').llen('log').exec())]);
      expect(plain).toBeInstanceOf(RedisUnavailableError);
      expect(multi).toBeInstanceOf(RedisUnavailableError);
      expect(plain).not.toBe(multi);
      expect(plain).not.toHaveProperty('previousErrors');
      expect(multi!.previousErrors).toHaveLength(3);
      expect(multi!.previousErrors).not.toContain(multi);
      expect(new Set(multi!.previousErrors).size).toBe(3);
      // (a caller may serialize what it was told)
      expect(() => JSON.stringify({ plain, multi })).not.toThrow();
    }, 30_000);
  }
});
