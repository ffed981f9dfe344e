/**
 * Client.submit's calls made in one tick go to Redis in one submit.lua call (mode `each`), yet
 * each is what it would be alone: a taken id refuses only its own submit, a dedupe key held by
 * an earlier submit of the same tick answers that task's id, bad input rejects only its call,
 * the tasks are queued in the order the calls were made, and a close() right after submits it
 * did not wait for still lets them be queued.
 *
 * The second block is what an adversarial review of it found; each test failed before its fix:
 *
 * - A submit, then a submitMany made after it in the same tick (neither awaited): the submit
 *   waited for the end of the tick, submitMany went out at once, so the producer's later task
 *   was queued, and claimed, first. Before coalescing, the submit went first.
 * - Submits of one tick over several partitions are one script per partition: when one
 *   partition's call failed, every submit of the tick rejected with its error, those whose own
 *   partition had queued them included (on a Cluster: a shard that is down, or mid-failover).
 *   A caller told "failed" retries, and the task runs twice.
 * - So within one partition: a script that raised half-way kept what it wrote before (no
 *   rollback), and every submit of the call rejected, those it had queued included. Sending
 *   each again alone would find the one that raised half-written (its hash, with its entry, and
 *   not in its queue) and take it for its own; submit.lua's `each` mode instead catches a
 *   task's raising writes and answers that task alone with the error.
 *
 * The third block: a Client's calls reach Redis in the order they were made, its submits
 * included, though a tick's submits wait for its end to go out together and their script is
 * then written at once (not held for ioredis's auto-pipeline, src/scripts.ts `unbatched`). Each
 * case failed before:
 *
 * - a cancel, then a submit (neither awaited): the cancel's script waited in the auto-pipeline
 *   for the end of the event-loop turn, the submit's was written past it, and found the dedupe
 *   key the cancel frees still held (it answered the cancelled task's id, and queued nothing);
 *   from a timer's callback the same, even once the submit joined a non-empty auto-pipeline:
 *   there the submits' end of tick ran before the promise reaction that sends the cancel;
 * - a submit, then a cancel or a get of its id: the submit waited for the end of the tick (and,
 *   on a client's first calls, for its checks), the cancel did not (TaskNotFoundError);
 * - a submitMany of several batches, then a submit: each batch waits for the answer to the one
 *   before, and the submit went out between them, its task queued before the later batches';
 * - a cancel, a submit, then a third call (a get, a submitMany, close()) that sends the submit
 *   before it: the submit's script was written at once, before the cancel's (made in the turn's
 *   promise reactions), and found the dedupe key still held; from every calling context;
 * - a get is a MULTI, which ioredis writes at once: a cancel then a get of the task (or a submit
 *   then a get, once the submit had joined the auto-pipeline) read it before the cancel ran;
 * - over several partitions pause, resume and setLimit wrote one partition after another, each
 *   after the answer to the one before: a submit made after a pause reached a later partition
 *   before it (a worker there could claim it); schedule reads Redis's clock first, and a submit
 *   made after it went out before its script;
 * - a submitMany, then close(): close waited only for the tick's submits, and its QUIT (which
 *   ioredis writes at once) cut off the submitMany's script, rejected; a cancel, then close(),
 *   the same for the cancel's.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, DuplicateTaskError, InvalidTaskError } from '../src/index.js';
import { partitionOf, partitionPrefix } from '../src/partitions.js';
import { keysFor } from './properties/harness.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { connect, type AddressInfo, createServer } from 'node:net';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** a client on a swarm of its own (each call of server.options() names a new key prefix) */
function client(extra: Record<string, unknown> = {}) {
  const o = { ...server.options(), ...extra } as ReturnType<RedisServer['options']>;
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return { c, prefix: o.keyPrefix };
}

/** the ids on new-task, oldest (next to be claimed) first (wake markers, which placed tasks push, left out) */
async function queuedIds(keyPrefix: string): Promise<string[]> {
  const entries = await redis.lrange(keysFor(keyPrefix).newQueue, 0, -1);
  return entries
    .reverse()
    .filter((e) => e !== 'wake')
    .map((e) => (JSON.parse(e) as { id: string }).id);
}

describe('submits made in one tick', () => {
  const fcalls = async () => Number(/cmdstat_fcall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);

  it('after another call made in the same turn (a cancel): one call for the tick\'s submits, after it', async () => {
    const { c, prefix } = client();
    // (a client's first submit writes the swarm's layout first: the one after it is the case)
    await c.submit('warm-up', null, { id: 'warm-up' });
    await redis.del(keysFor(prefix).newQueue);
    const before = await fcalls();
    const cancelled = c.cancel('nothing-such').catch(() => 'unknown');
    const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => c.submit('f', i)));
    await cancelled;
    expect(await queuedIds(prefix)).toEqual(ids);
    // the cancel's script, then the five submits' one
    expect((await fcalls()) - before).toBe(2);
  });

  it('a taken id refuses only its own submit; the others are queued, in the order they were made', async () => {
    const { c, prefix } = client();
    await c.submit('f', 'first', { id: 'taken' });
    const calls = [c.submit('f', 1, { id: 'a' }), c.submit('f', 'again', { id: 'taken' }), c.submit('f', 2, { id: 'b' }), c.submit('f', 3)];
    const settled = await Promise.allSettled(calls);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 'a' });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: expect.any(DuplicateTaskError) });
    expect(settled[2]).toEqual({ status: 'fulfilled', value: 'b' });
    const generated = (settled[3] as PromiseFulfilledResult<string>).value;
    expect(await queuedIds(prefix)).toEqual(['taken', 'a', 'b', generated]);
  });

  it('the same id twice: the second is refused, unless it is the very same entry (then both answer the id, queued once)', async () => {
    const { c, prefix } = client();
    const [x, y] = await Promise.allSettled([c.submit('f', 1, { id: 'twice' }), c.submit('f', 2, { id: 'twice' })]);
    expect(x).toEqual({ status: 'fulfilled', value: 'twice' });
    expect(y).toMatchObject({ status: 'rejected', reason: expect.any(DuplicateTaskError) });
    const same = await Promise.all([c.submit('f', 1, { id: 'same' }), c.submit('f', 1, { id: 'same' })]);
    expect(same).toEqual(['same', 'same']);
    expect((await queuedIds(prefix)).filter((id) => id === 'same')).toHaveLength(1);
  });

  it('a dedupe key held by an earlier submit of the same tick answers that task, and queues nothing more', async () => {
    const { c } = client();
    const ids = await Promise.all([c.submit('f', 1, { key: 'k' }), c.submit('f', 2, { key: 'k' }), c.submit('f', 3, { key: 'other' })]);
    expect(ids[1]).toBe(ids[0]);
    expect(ids[2]).not.toBe(ids[0]);
    expect(await c.get(ids[0]!)).toMatchObject({ state: 'QUEUED' });
  });

  it('bad input rejects only its own call, at once; the rest of the tick is queued', async () => {
    const { c, prefix } = client();
    const calls = [c.submit('f', 1, { id: 'ok-1' }), c.submit('', 2), c.submit('f', 3, { priority: 5000 }), c.submit('f', 4, { id: 'ok-2' })];
    const settled = await Promise.allSettled(calls);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((settled[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidTaskError);
    expect((settled[2] as PromiseRejectedResult).reason).toBeInstanceOf(ConfigError);
    expect(await queuedIds(prefix)).toEqual(['ok-1', 'ok-2']);
  });

  it('more than one call holds (2,500 in one tick, some placed with a priority): every one queued, each where it belongs', async () => {
    const { c, prefix } = client();
    const ids = await Promise.all(Array.from({ length: 2500 }, (_, i) => c.submit('f', i, i % 10 === 0 ? { priority: 1 } : {})));
    expect(new Set(ids).size).toBe(2500);
    const plain = ids.filter((_, i) => i % 10 !== 0);
    expect(await queuedIds(prefix)).toEqual(plain);
    for (const id of ids.filter((_, i) => i % 10 === 0).slice(0, 20)) expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
  });

  it('large tasks submitted together go in several calls (at most about 1 MiB of tasks each), every one queued in order', async () => {
    const { c, prefix } = client();
    await c.get('warm-up');
    const fcalls = async () => Number(/cmdstat_fcall:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
    const before = await fcalls();
    const big = 'x'.repeat(300_000);
    const ids = await Promise.all(Array.from({ length: 8 }, (_, i) => c.submit('f', { i, big })));
    // 8 tasks of 300 KB: three to a call at most
    expect((await fcalls()) - before).toBeGreaterThanOrEqual(3);
    expect(await queuedIds(prefix)).toEqual(ids);
  });

  it('close() right after submits it did not wait for: they are queued, and each resolves with its id', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const calls = Array.from({ length: 50 }, (_, i) => c.submit('f', i, { id: `late-${i}` }));
    await c.close();
    expect(await Promise.all(calls)).toEqual(calls.map((_, i) => `late-${i}`));
    expect(await queuedIds(o.keyPrefix)).toEqual(calls.map((_, i) => `late-${i}`));
  });

  it('over several partitions, each task goes to its own, in the order made within it', async () => {
    const { c } = client({ keyPrefix: '{coalesce}:', partitions: 4 });
    const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => c.submit('f', i)));
    const found: string[] = [];
    for (let p = 0; p < 4; p++) {
      const inPart = await queuedIds(partitionPrefix('{coalesce}:', p, 4));
      expect(inPart).toEqual(ids.filter((id) => inPart.includes(id)));
      found.push(...inPart);
    }
    expect(found.sort()).toEqual([...ids].sort());
  });
});

/** an id of the form `<stem>-<n>` in partition `p` of `n` */
function idIn(stem: string, p: number, n: number): string {
  for (let i = 0; ; i++) if (partitionOf(`${stem}-${i}`, n) === p) return `${stem}-${i}`;
}

describe('coalesced submits, reviewed', () => {
  it('a submit, then a submitMany in the same tick: queued in the order they were made', async () => {
    for (const warm of [false, true]) {
      const { c, prefix } = client();
      if (warm) await c.get('warm-up'); // the server check done: only the tick decides
      const first = c.submit('f', 1, { id: 'first' });
      const second = c.submitMany([{ fn: 'f', data: 2, options: { id: 'second' } }]);
      await Promise.all([first, second]);
      expect(await queuedIds(prefix), warm ? 'warm client' : 'first calls').toEqual(['first', 'second']);
    }
  });

  it("one partition's call failing rejects only the submits of that partition; the others resolve, queued", async () => {
    const n = 4;
    const { c, prefix } = client({ keyPrefix: '{review-part}:', partitions: n });
    await c.get('warm-up');
    const good = idIn('good', 0, n);
    const bad = idIn('bad', 1, n);
    // partition 1 cannot take a submit: its queued set is a string (submit.lua's SISMEMBER fails)
    await redis.set(keysFor(partitionPrefix(prefix, 1, n)).queued, 'not a set');
    const [g, b] = await Promise.allSettled([c.submit('f', 1, { id: good }), c.submit('f', 2, { id: bad })]);
    expect(b.status).toBe('rejected');
    expect(await queuedIds(partitionPrefix(prefix, 0, n))).toEqual([good]);
    // what the review saw: rejected with partition 1's WRONGTYPE, though it was queued
    expect(g).toEqual({ status: 'fulfilled', value: good });
  });

  it('a submit that makes the script raise half-way: a submit it had queued before does not reject', async () => {
    const { c, prefix } = client();
    await c.get('warm-up');
    // function g's queue (group '') is a string: submit.lua's ZADD for a task of g placed at once raises
    await redis.set(`${keysFor(prefix).newQueue}:f:1:g:g:0:`, 'not a zset');
    const settled = await Promise.allSettled([c.submit('f', 1, { id: 'w1' }), c.submit('g', 2, { id: 'w2', priority: 1 }), c.submit('f', 3, { id: 'w3' })]);
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: expect.objectContaining({ message: expect.stringMatching(/WRONGTYPE/) }) });
    const queued = await queuedIds(prefix);
    expect(queued[0]).toBe('w1');
    // w3, after the one that raised: resolved and queued, or rejected and not queued
    expect(settled[2]!.status === 'fulfilled').toBe(queued.includes('w3'));
    // what the review saw: rejected with WRONGTYPE, though queued
    expect(settled[0]).toEqual({ status: 'fulfilled', value: 'w1' });
  });
});

describe('a submit made after another call of the same client, neither awaited', () => {
  it('cancel of a dedupe key\'s holder, then a submit with that key: the key is free, a new task is queued', async () => {
    const { c } = client();
    const old = await c.submit('f', 'old', { key: 'k' });
    // (neither awaited: the cancel's script is made first)
    const [cancelled, fresh] = await Promise.all([c.cancel(old), c.submit('f', 'new', { key: 'k' })]);
    expect(cancelled).toBe('cancelled');
    expect(fresh).not.toBe(old);
    expect(await c.get(fresh)).toMatchObject({ state: 'QUEUED' });
  });

  it('the same from a timer\'s callback, where a submit\'s end-of-tick comes before the promise reactions that send the cancel', async () => {
    const { c } = client();
    for (let i = 0; i < 5; i++) {
      const old = await c.submit('f', 'old', { key: `t${i}` });
      const [cancelled, fresh] = await new Promise<[unknown, string]>((resolve, reject) => {
        setTimeout(() => void Promise.all([c.cancel(old), c.submit('f', 'new', { key: `t${i}` })]).then(resolve, reject), 1);
      });
      expect(cancelled).toBe('cancelled');
      expect(fresh).not.toBe(old);
    }
  });

  it('a submit, then a cancel of its id: the task is cancelled, not unknown', async () => {
    const { c } = client();
    await c.submit('f', 0);
    const [id, cancelled] = await Promise.allSettled([c.submit('f', 1, { id: 'x' }), c.cancel('x')]);
    expect(id).toEqual({ status: 'fulfilled', value: 'x' });
    expect(cancelled).toEqual({ status: 'fulfilled', value: 'cancelled' });
  });

  it('the same on a client\'s first calls (not yet ready), and over several partitions', async () => {
    for (const extra of [{}, { partitions: 3, keyPrefix: `{ord${Date.now()}}:` }]) {
      const { c } = client(extra);
      const [id, cancelled, info] = await Promise.allSettled([c.submit('f', 1, { id: 'y' }), c.cancel('y'), c.get('y')]);
      expect(id).toEqual({ status: 'fulfilled', value: 'y' });
      expect(cancelled).toEqual({ status: 'fulfilled', value: 'cancelled' });
      expect(info).toMatchObject({ status: 'fulfilled', value: { id: 'y' } });
      await c.close();
    }
  });

  it('a submitMany of several batches, then a submit: the submit\'s task is queued after all of them', async () => {
    const { c, prefix } = client();
    await c.submit('f', 0);
    const many = Array.from({ length: 1500 }, (_, i) => ({ fn: 'f', data: i }));
    const [ids, last] = await Promise.all([c.submitMany(many), c.submit('f', 'last')]);
    const queued = (await redis.lrange(keysFor(prefix).newQueue, 0, -1)).reverse().map((e) => (JSON.parse(e) as { id: string }).id);
    expect(queued.slice(1)).toEqual([...ids, last]);
  });

  it('the same when Redis has lost the function library (each call loads it again, and is sent again, in order)', async () => {
    const { c } = client();
    const old = await c.submit('f', 'old', { key: 'lost' });
    await redis.function('FLUSH');
    const [cancelled, fresh] = await Promise.all([c.cancel(old), c.submit('f', 'new', { key: 'lost' })]);
    expect(cancelled).toBe('cancelled');
    expect(fresh).not.toBe(old);
    await redis.function('FLUSH');
    const [id, again] = await Promise.allSettled([c.submit('f', 1, { id: 'z' }), c.cancel('z')]);
    expect(id).toEqual({ status: 'fulfilled', value: 'z' });
    expect(again).toEqual({ status: 'fulfilled', value: 'cancelled' });
    expect(await c.get(fresh)).toMatchObject({ state: 'QUEUED' });
  });

  /** the ways a caller's code runs: each runs `calls` there, and resolves once it ran */
  const contexts: Record<string, (calls: () => void) => Promise<void>> = {
    'top of a test': async (calls) => calls(),
    'after an await': async (calls) => {
      await Promise.resolve();
      calls();
    },
    'a timer': (calls) => new Promise((r) => setTimeout(() => r(calls()), 1)),
    'setImmediate': (calls) => new Promise((r) => setImmediate(() => r(calls()))),
    'process.nextTick': (calls) => new Promise((r) => process.nextTick(() => r(calls()))),
    "a Redis reply's .then": (calls) => new Promise((r) => void redis.ping().then(() => r(calls()))),
    "a net server's 'data'": (calls) =>
      new Promise((r) => {
        const srv = createServer((s) =>
          s.on('data', () => {
            r(calls());
            s.destroy();
            srv.close();
          }),
        );
        srv.listen(0, '127.0.0.1', () => connect((srv.address() as AddressInfo).port, '127.0.0.1', function (this: import('node:net').Socket) { this.end('x'); }));
      }),
  };

  /** the commands Redis ran on keys of `keyPrefix`'s swarm (its partitions too) while `during` ran, in order, through MONITOR */
  async function commandsRun(keyPrefix: string, during: () => Promise<unknown>): Promise<string[]> {
    const tag = keyPrefix.slice(0, keyPrefix.indexOf('}'));
    const seen: string[] = [];
    const mon = connect(server.port, '127.0.0.1');
    let buf = '';
    mon.on('data', (d) => {
      buf += String(d);
      const lines = buf.split('\r\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.includes(`${tag}}`) || l.includes(`${tag}:`)) seen.push(l.slice(l.indexOf('"')).replace(/["\\]/g, '').toLowerCase());
    });
    mon.write('MONITOR\r\n');
    await new Promise((r) => setTimeout(r, 30));
    await during();
    await new Promise((r) => setTimeout(r, 30));
    mon.destroy();
    return seen;
  }

  it('a cancel, a submit with the key it frees, then a call that sends the submit (a get, a submitMany, close()): the key is free, from any calling context', async () => {
    for (const [where, run] of Object.entries(contexts)) {
      for (const third of ['get', 'submitMany', 'close'] as const) {
        const { c } = client();
        const old = await c.submit('f', 'old', { key: 'k' });
        let calls: Promise<unknown>[] = [];
        await run(() => {
          calls = [c.cancel(old), c.submit('f', 'new', { key: 'k', id: 'fresh' })];
          if (third === 'get') calls.push(c.get('fresh'));
          if (third === 'submitMany') calls.push(c.submitMany([{ fn: 'f', data: 'after' }]));
          if (third === 'close') calls.push(c.close());
        });
        const settled = await Promise.allSettled(calls);
        expect({ where, third, settled: settled.slice(0, 2) }).toEqual({
          where,
          third,
          settled: [
            { status: 'fulfilled', value: 'cancelled' },
            { status: 'fulfilled', value: 'fresh' },
          ],
        });
        // the get went out after both: it reads the new task
        if (third === 'get') expect({ where, info: settled[2] }).toMatchObject({ where, info: { status: 'fulfilled', value: { id: 'fresh', state: 'QUEUED' } } });
        await c.close();
      }
    }
  });

  it('a cancel, then a get of the task (neither awaited): the get reads it cancelled', async () => {
    const { c } = client();
    for (const [where, run] of Object.entries(contexts)) {
      const id = await c.submit('f', where);
      let calls: Promise<unknown>[] = [];
      await run(() => (calls = [c.cancel(id), c.get(id)]));
      const [cancelled, info] = await Promise.all(calls);
      expect({ where, cancelled, info }).toMatchObject({ where, cancelled: 'cancelled', info: { state: 'END', outcome: 'cancelled' } });
    }
  });

  it('over several partitions, a pause, a resume or a setLimit reaches every partition before the submits made after it', async () => {
    const ops = {
      pause: { call: (c: Client) => c.pause(), ran: (l: string) => l.startsWith('sadd') && l.includes('paused') },
      resume: { call: (c: Client) => c.resume(), ran: (l: string) => l.startsWith('fcall') && l.includes('resume') },
      setLimit: { call: (c: Client) => c.setLimit({ function: 'f' }, { concurrency: 1 }), ran: (l: string) => l.startsWith('fcall') && l.includes('limit') },
    };
    for (const [name, op] of Object.entries(ops)) {
      const prefix = `{ops${name}${Date.now()}}:`;
      const { c } = client({ partitions: 3, keyPrefix: prefix });
      await c.submit('f', 0);
      // a task in each partition
      const ids = [0, 1, 2].map((p) => idIn(`${name}-`, p, 3));
      const seen = await commandsRun(prefix, async () => {
        await Promise.all([op.call(c), ...ids.map((id) => c.submit('f', 1, { id }))]);
      });
      for (const [p, id] of ids.entries()) {
        const part = partitionPrefix(prefix, p, 3).toLowerCase();
        const opAt = seen.findIndex((l) => op.ran(l) && l.includes(part));
        const submitAt = seen.findIndex((l) => l.startsWith('fcall') && l.includes('_submit') && l.includes(id.toLowerCase()));
        expect({ name, partition: p, before: opAt >= 0 && opAt < submitAt }).toEqual({ name, partition: p, before: true });
      }
    }
  });

  it('a schedule (which reads Redis\'s clock first), then a submit: the schedule\'s script reaches Redis first', async () => {
    const prefix = `{sched${Date.now()}}:`;
    const { c } = client({ keyPrefix: prefix });
    await c.submit('f', 0);
    const seen = await commandsRun(prefix, () => Promise.all([c.schedule('every-minute', { every: 60_000 }, 'f'), c.submit('f', 1, { id: 'after-schedule' })]));
    const scheduled = seen.findIndex((l) => l.startsWith('fcall') && l.includes('every-minute'));
    const submitted = seen.findIndex((l) => l.startsWith('fcall') && l.includes('after-schedule'));
    expect(scheduled).toBeGreaterThanOrEqual(0);
    expect(submitted).toBeGreaterThan(scheduled);
  });

  it('close() right after a cancel and a submitMany, or a submit and a submitMany, it did not wait for: each is sent and answered', async () => {
    for (const extra of [{}, { partitions: 3, keyPrefix: `{closing${Date.now()}}:` }]) {
      const { c } = client(extra);
      const old = await c.submit('f', 'old');
      const calls = [c.cancel(old), c.submitMany([{ fn: 'f', options: { id: 'many-1' } }, { fn: 'f', options: { id: 'many-2' } }])];
      await c.close();
      expect(await Promise.allSettled(calls)).toEqual([
        { status: 'fulfilled', value: 'cancelled' },
        { status: 'fulfilled', value: ['many-1', 'many-2'] },
      ]);
      const { c: d } = client(extra);
      await d.submit('f', 0);
      const more = [d.submit('f', 1, { id: 'one' }), d.submitMany([{ fn: 'f', options: { id: 'many-3' } }, { fn: 'f', options: { id: 'many-4' } }])];
      await d.close();
      expect(await Promise.allSettled(more)).toEqual([
        { status: 'fulfilled', value: 'one' },
        { status: 'fulfilled', value: ['many-3', 'many-4'] },
      ]);
    }
  });
});
