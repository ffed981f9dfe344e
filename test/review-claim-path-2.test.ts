/**
 * What claims know of new-task's right end (src/lua/lib/plain-window.lua) is kept in one function
 * library's memory, and checked against the entry at the right end. Claims elsewhere change the
 * queue without telling it: those of another library run side by side during a rolling upgrade
 * (src/scripts.ts: the library's name holds a hash of its code), and those on the replica a
 * planned failover promotes, the first primary going on from its dataset, its library and what
 * it knew kept, once it is primary again. The entry at the right end then has to tell a queue
 * changed since from the one known; a wake marker is not one entry but the same text every time.
 * A priority entry behind a new one must still start before the plain entries routed with it
 * (docs/semantics.md, Order).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { freePort, spawnRedis } from '../tools/redis-process.js';
import { until } from './helpers/redis-server.js';
import { claim, claimArgs, claimKeys, parseClaim, type ClaimRequest } from '../src/effects/queue.js';
import { library } from '../src/scripts.js';
import type { Keys } from '../src/keys.js';
import { keysFor } from './properties/harness.js';
import { redisPerFile } from './helpers/suite.js';

let redis: Redis;
const cleanup = redisPerFile((_s, r) => {
  redis = r;
});

const MAX_BYTES = 1 << 20;
let n = 0;
const fresh = () => keysFor(`cp2_${++n}:`);
let seq = 0;

function request(worker: string, rooms: Record<string, number>, max: number): ClaimRequest {
  return { worker, max, maxPayloadBytes: MAX_BYTES, functions: Object.entries(rooms).map(([name, room]) => ({ name, room })), rotation: 0, token: `t.${++seq}`, acks: [] };
}

const entry = (id: string, fields = '') => `{"id":"${id}","function":"f","data":null${fields}}`;

/** LPUSH entries oldest first: the first given is the first at the right end */
async function push(q: string, entries: string[]): Promise<void> {
  for (const e of entries) await redis.lpush(q, e);
}

/**
 * The same scripts loaded again under another library name, as a worker of another version loads
 * its own during a rolling upgrade: a claim through it (its own memory, the same keys).
 */
async function otherVersion(): Promise<(keys: Keys, c: ClaimRequest) => Promise<ReturnType<typeof parseClaim>>> {
  const lib = library();
  const hash = lib.name.slice('taskswarm_'.length);
  const code = lib.code.split(`ts_${hash}_`).join(`ts_${hash}x_`).replace(`#!lua name=${lib.name}`, `#!lua name=${lib.name}x`);
  await redis.function('LOAD', 'REPLACE', code);
  await redis.function('LOAD', 'REPLACE', lib.code).catch(() => undefined);
  return async (keys, c) => parseClaim(await redis.fcall(`ts_${hash}x_claim`, claimKeys(keys, c).length, ...claimKeys(keys, c), ...claimArgs(keys, c)));
}

describe("what claims know of new-task's right end, with a worker of another version claiming the same queue", () => {
  it('a wake marker at the right end, as when it was learnt, the entries behind it new: an urgent one starts before the plain one routed with it', async () => {
    const keys = fresh();
    const q = keys.newQueue;
    const other = await otherVersion();
    // a first claim of this version takes p0 and learns the 11 entries left plain, a wake
    // marker at the right end
    await push(q, [entry('p0'), 'wake', ...Array.from({ length: 10 }, (_, i) => entry(`a${i}`))]);
    // (its receipts hash made, with its `ttl` mark)
    await claim(redis, keys, { ...request('w1:1', { f: 1 }, 1), max: 1 });
    expect(await redis.llen(q)).toBe(11);
    // a worker of the other version drains the queue
    const drained = await other(keys, request('w2:1', { f: 20 }, 20));
    expect(drained.claimed.map((t) => t.id)).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    expect(await redis.llen(q)).toBe(0);
    // new entries: a wake marker (an END that freed a slot, a promotion), then x1, an urgent
    // one, x2
    await push(q, ['wake', entry('x1'), entry('urgent', ',"priority":5'), entry('x2')]);
    // this version's worker claims one task: routed together, the urgent one comes first
    const next = await claim(redis, keys, request('w1:1', { f: 1 }, 1));
    expect(next.claimed.map((t) => t.id)).toEqual(['urgent']);
  });

  it('the same queue, nothing known of it beforehand: the urgent one starts first', async () => {
    const keys = fresh();
    const q = keys.newQueue;
    await push(q, ['wake', entry('x1'), entry('urgent', ',"priority":5'), entry('x2')]);
    await claim(redis, keys, request('w1:1', { f: 1 }, 1)).then((r) => expect(r.claimed.map((t) => t.id)).toEqual(['urgent']));
  });
});

/** a primary and its replica, linked */
async function pair(): Promise<{ a: Redis; b: Redis }> {
  const dir = mkdtempSync(join(tmpdir(), 'claim-failover-'));
  const [da, db] = [mkdtempSync(join(dir, 'a-')), mkdtempSync(join(dir, 'b-'))];
  const pa = await freePort();
  const procA = await spawnRedis({ port: pa, dir: da });
  const pb = await freePort();
  const procs = [procA, await spawnRedis({ port: pb, dir: db })];
  const a = new Redis({ port: pa });
  const b = new Redis({ port: pb });
  cleanup.push(async () => {
    a.disconnect();
    b.disconnect();
    for (const p of procs) p.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await b.replicaof('127.0.0.1', String(pa));
  await linked(b);
  return { a, b };
}

async function linked(replica: Redis): Promise<void> {
  await until(async () => (await replica.info('replication')).includes('master_link_status:up'), 'the replica linked');
}

/** a coordinated failover from `from` to its replica `to` (FAILOVER), `from` a replica of it after */
async function failover(from: Redis, to: Redis): Promise<void> {
  await from.call('FAILOVER');
  await until(async () => (await to.info('replication')).includes('role:master'), 'the replica promoted');
  await linked(from);
}

describe("what claims know of new-task's right end, across a failover and back", () => {
  it('a wake marker at the right end, as when it was learnt, the entries behind it new: an urgent one starts before the plain one routed with it', async () => {
    const { a, b } = await pair();
    const keys = fresh();
    const q = keys.newQueue;
    // on the first primary: a claim takes p0 and learns the 11 entries left plain, a wake marker
    // at the right end
    for (const e of [entry('p0'), 'wake', ...Array.from({ length: 10 }, (_, i) => entry(`a${i}`))]) await a.lpush(q, e);
    expect((await claim(a, keys, request('w1:1', { f: 1 }, 1))).claimed.map((t) => t.id)).toEqual(['p0']);
    await until(async () => (await b.llen(q)) === 11, 'the replica up to date');
    // a planned failover to the replica: workers claim there, and drain the queue
    await failover(a, b);
    expect((await claim(b, keys, request('w1:1', { f: 20 }, 20))).claimed.map((t) => t.id)).toEqual(Array.from({ length: 10 }, (_, i) => `a${i}`));
    // new entries: a wake marker, then x1, an urgent one, x2
    for (const e of ['wake', entry('x1'), entry('urgent', ',"priority":5'), entry('x2')]) await b.lpush(q, e);
    await until(async () => (await a.llen(q)) === 4, 'the first primary up to date');
    // and back (the first primary went on from its dataset: it did not load another)
    await failover(b, a);
    expect(await a.llen(q)).toBe(4);
    const next = await claim(a, keys, request('w1:1', { f: 1 }, 1));
    expect(next.claimed.map((t) => t.id)).toEqual(['urgent']);
  });
});
