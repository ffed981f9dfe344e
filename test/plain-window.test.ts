/**
 * What a claim knows of new-task's right end (how many entries there hold neither `group` nor
 * `priority`, and the entry at the right end when it learnt it, which every claim checks;
 * src/lua/lib/plain-window.lua, docs/queue-layout.md). Whatever changed the queue since, by hand or in
 * another database of the same Redis, a hand-pushed entry with a priority that a claim's window
 * reaches starts before the plain entries routed with it, as it would had nothing been known
 * (docs/semantics.md, Order).
 */
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { pushEntries, quiet } from './helpers/order.js';
import { holdingWorker, otherDatabase, pad, plainEntry } from './helpers/holding-worker.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

describe("what a claim knows of new-task's right end", () => {
  it('popped by hand, the queue still longer than what was known: the window is read again', async () => {
    // (as in test/order-entries.test.ts, with 100 more entries behind: 127 from the right end
    // there is an entry after the pop, another than the one known there)
    const o = server.options();
    const queue = keysFor(o.keyPrefix).newQueue;
    const entry = plainEntry;
    const { ids, release } = await holdingWorker(o, 'p000', cleanup);
    const plain = (from: number, n: number) => Array.from({ length: n }, (_, i) => entry(`p${pad(from + i)}`));
    await pushEntries(redis, o.keyPrefix, [...plain(0, 130), entry('urgent', ',"priority":5'), ...plain(131, 169)]);
    await until(() => ids.length === 1, 'p000 started');
    expect(await redis.rpop(queue, 100)).toHaveLength(100);
    expect(await redis.llen(queue)).toBeGreaterThan(127);
    release();
    await until(() => ids.length >= 200, '200 starts', 20_000);
    expect(ids.slice(0, 2)).toEqual(['p000', 'urgent']);
    expect(ids.slice(2)).toEqual([...plain(101, 29), ...plain(131, 169)].map((e) => (JSON.parse(e) as { id: string }).id));
  });

  it('entries alike in their first bytes and their length: popped by hand, the window is read again', async () => {
    // entries written with their keys sorted (as some JSON encoders write them): a long `data`
    // first, the id last; all the same length
    const o = server.options();
    const queue = keysFor(o.keyPrefix).newQueue;
    const blob = 'x'.repeat(300);
    const entry = (id: string, fields = '') => `{"data":"${blob}","function":"f","id":"${id}"${fields}}`;
    const { ids, release } = await holdingWorker(o, 'p000', cleanup);
    const plain = (from: number, n: number) => Array.from({ length: n }, (_, i) => entry(`p${pad(from + i)}`));
    // (oldest first) 130 plain, one of priority 5, 169 plain: the first claim knows the 128
    // nearest the right end plain (not the priority entry)
    await pushEntries(redis, o.keyPrefix, [...plain(0, 130), entry('urgent', ',"priority":5'), ...plain(131, 169)]);
    await until(() => ids.length === 1, 'p000 started');
    // an operator takes 100 entries from the right end: the priority entry is 30 from it now,
    // inside the next claim's window; every entry is alike the others in its first 300 bytes
    // and its length
    expect(await redis.rpop(queue, 100)).toHaveLength(100);
    release();
    await until(() => ids.length >= 200, '200 starts', 20_000);
    expect(ids.slice(0, 2)).toEqual(['p000', 'urgent']);
    expect(ids.slice(2)).toEqual([...plain(101, 29), ...plain(131, 169)].map((e) => (JSON.parse(e) as { id: string }).id));
  });

  it.each([
    ['another entry in front of it (the right end changed)', 'r', false],
    ['the same entry in front of it, and the library loaded again (FUNCTION FLUSH, as a restart or a failover forgets what claims knew)', 'p001', true],
  ])('entries popped and as many pushed at the right end by hand, an urgent one behind %s: the window is read again', async (_, front, reloaded) => {
    const o = server.options();
    const queue = keysFor(o.keyPrefix).newQueue;
    const { ids, release } = await holdingWorker(o, 'p000', cleanup);
    await pushEntries(redis, o.keyPrefix, Array.from({ length: 100 }, (_, i) => plainEntry(`p${pad(i)}`)));
    await until(() => ids.length === 1, 'p000 started');
    // an operator replaces the two entries next in line: an urgent one (priority 5), and in
    // front of it a plain one
    expect(await redis.rpop(queue, 2)).toEqual([plainEntry('p001'), plainEntry('p002')]);
    await redis.rpush(queue, plainEntry('urgent', ',"priority":5'), plainEntry(front));
    if (reloaded) await redis.function('FLUSH');
    release();
    await until(() => ids.length >= 100, '100 starts', 20_000);
    expect(ids.slice(0, 3)).toEqual(['p000', 'urgent', front]);
    expect(ids.slice(3)).toEqual(Array.from({ length: 97 }, (_, i) => `p${pad(i + 3)}`));
  });

  it('two swarms of the same key names in two databases of one Redis: what one knows is not taken for the other', async () => {
    const o0 = server.options();
    const o1 = { ...o0, db: 1 };
    const queue = keysFor(o0.keyPrefix).newQueue;
    const entry = plainEntry;
    const db1 = otherDatabase(o0, 1, cleanup);
    // database 0: 100 plain entries; its worker takes p000 and holds it, knowing the 99 left
    // plain, the farthest p099
    const a = await holdingWorker(o0, 'p000', cleanup);
    await pushEntries(redis, o0.keyPrefix, Array.from({ length: 100 }, (_, i) => entry(`p${pad(i)}`)));
    await until(() => a.ids.length === 1, 'p000 started (database 0)');
    // database 1 (the same tasks fed to both, as to two environments, with an urgent one of its
    // own): r, urgent, q003..q098 and p099, 99 from the right end as in database 0
    const b = await holdingWorker(o1, '', cleanup);
    const oldestFirst = [entry('r'), entry('urgent', ',"priority":5'), ...Array.from({ length: 96 }, (_, i) => entry(`q${pad(i + 3)}`)), entry('p099')];
    const pipe = db1.pipeline();
    pipe.lpush(queue, ...oldestFirst);
    await pipe.exec();
    cleanup.push(async () => a.release());
    await until(() => b.ids.length >= 99, '99 starts (database 1)', 20_000);
    expect(b.ids.slice(0, 2)).toEqual(['urgent', 'r']);
  });
});

describe('what claims know, kept in the function library (per database and queue)', () => {
  it.each([
    ['in its options', (o: ReturnType<RedisServer['options']>) => ({ ...o, db: 2 })],
    ['by its url alone', (o: ReturnType<RedisServer['options']>) => ({ url: `redis://${o.host}:${o.port}/2`, keyPrefix: o.keyPrefix })],
  ])('two databases whose right ends hold the same entry, the second named %s: one knowing its entries plain does not make the other skip reading its own', async (_, named) => {
    const o0 = server.options();
    const queue = keysFor(o0.keyPrefix).newQueue;
    const db = otherDatabase(o0, 2, cleanup);
    // database 2's worker waits, idle; database 0's takes p000 and holds it, knowing the 99
    // left plain, p001 next
    const b = await holdingWorker(named(o0), '', cleanup);
    const a = await holdingWorker(o0, 'p000', cleanup);
    cleanup.push(async () => a.release());
    await pushEntries(redis, o0.keyPrefix, Array.from({ length: 100 }, (_, i) => plainEntry(`p${pad(i)}`)));
    await until(() => a.ids.length === 1, 'p000 started (database 0)');
    // database 2: the same entry p001 at the right end, an urgent one right behind it
    const oldestFirst = [plainEntry('p001'), plainEntry('urgent', ',"priority":5'), ...Array.from({ length: 20 }, (_, i) => plainEntry(`q${pad(i)}`))];
    await db.lpush(queue, ...oldestFirst);
    await until(() => b.ids.length >= 22, '22 starts (database 2)', 20_000);
    expect(b.ids.slice(0, 2)).toEqual(['urgent', 'p001']);
  });
});

describe('a worker of one function, the swarm not calm (a retry waiting for its backoff)', () => {
  it('the retry that falls due starts before the seed entries its claim finds on new-task, pushed after it was first queued', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const starts: string[] = [];
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
    w.addTaskFunction('f', async (t) => {
      starts.push(`${t.id}#${t.attempt}`);
      if (t.id === 'r' && t.attempt === 1) throw new Error('once');
      if (t.id === 'h') await released;
    });
    cleanup.push(() => w.stop());
    await w.start();
    await c.submit('f', null, { id: 'r', attempts: 2, backoff: 300 });
    await until(() => starts.length === 1, 'r started');
    // h holds the worker's one slot past r's due time; 50 seed entries wait behind it
    await pushEntries(redis, o.keyPrefix, [`{"id":"h","function":"f","data":"{}"}`]);
    await until(() => starts.length === 2, 'h started');
    await pushEntries(redis, o.keyPrefix, Array.from({ length: 50 }, (_, i) => `{"id":"e${pad(i)}","function":"f","data":"{}"}`));
    await new Promise((r) => setTimeout(r, 700));
    release();
    await until(() => starts.length >= 53, '53 starts', 20_000);
    expect(starts.slice(0, 4)).toEqual(['r#1', 'h#1', 'r#2', 'e000#1']);
    expect(starts.slice(4)).toEqual(Array.from({ length: 49 }, (_, i) => `e${pad(i + 1)}#1`));
  });
});
