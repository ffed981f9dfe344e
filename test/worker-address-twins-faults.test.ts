/**
 * workers:owners under faults, timings and input the first file does not reach: a twin whose
 * stop lands right after its registration, a Redis whose data goes back to an older copy (a
 * restart from an older snapshot, a failover to a replica that lagged) while a worker restarted
 * at its address is the only process there, a process of another host name before this one,
 * a second process of this host that starts and stops under a live one's address, hand-written
 * junk in the field, a key of another type, entries that never fall overdue, and a live twin on
 * a slow link (its heartbeats spaced wider than its interval).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { Monitor, Worker } from '../src/index.js';
import { deregisterWorker, registerWorker } from '../src/effects/registry.js';
import { renewLeases } from '../src/effects/leases.js';
import { hostsAvailable, onHost } from './helpers/host-name.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { quiet } from './helpers/order.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const ADDRESS = '10.255.255.2:7000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logs() {
  const errors: string[] = [];
  const warns: string[] = [];
  return { errors, warns, logger: { debug() {}, info() {}, warn: (m: unknown) => void warns.push(String(m)), error: (m: unknown) => void errors.push(String(m)) } };
}
const ownerOf = (w: Worker) => (w as unknown as { owner: string }).owner;
const twinErrors = (errors: string[]) => errors.filter((e) => e.includes('another worker process'));
/** whether `w`'s process is written under the address (lib/address-owners.lua: `<process>@<overdue>` each) */
const listedUnder = async (p: string, w: Worker) => ((await redis.hget(`${p}workers:owners`, ADDRESS)) ?? '').split(' ').some((e) => e.startsWith(`${ownerOf(w)}@`));

describe('workers:owners under faults', () => {
  it('a twin stopping right after its registration leaves the address listed for the other, on another host', async () => {
    if (!hostsAvailable()) return console.warn('skipped: `unshare --uts` (root) is needed to run a worker under another host name');
    const o = server.options();
    const p = o.keyPrefix;
    // b, on another host, heartbeats every 5 s; a registers on this one and stops at once,
    // between two of b's heartbeats: a's registration is the last word under the address
    const options = { redis: o, port: 0, advertise: ADDRESS };
    const b = await spawnWorker({ ...options, heartbeatInterval: 5000 }, onHost('twin-b'));
    cleanup.push(() => b.kill('SIGKILL').then(() => {}));
    const a = await spawnWorker({ ...options, heartbeatInterval: 5000 });
    cleanup.push(() => a.kill('SIGKILL').then(() => {}));
    const owners = async () => ((await redis.hget(`${p}workers:owners`, ADDRESS)) ?? '').split(' ').map((e) => e.split('@')[0]!);
    expect((await owners()).map((n) => n.replace(/-\d+-[0-9a-f]+$/, '')).sort()).toEqual([hostname(), 'twin-b'].sort());
    expect(await a.kill('SIGTERM')).toBe(0);
    // b still serves under the address: the stop of a leaves it listed, with what b serves
    expect(await redis.sismember(`${p}workers`, ADDRESS)).toBe(1);
    expect(await redis.zscore(`${p}workers:seen`, ADDRESS)).not.toBeNull();
    expect(await redis.hexists(`${p}workers:functions`, ADDRESS)).toBe(1);
    expect((await owners()).map((n) => n.replace(/-\d+-[0-9a-f]+$/, ''))).toEqual(['twin-b']);
  }, 30_000);

  it('a worker restarted at its address is not told of its predecessor when Redis goes back to an older copy of its data', async () => {
    if (!server.owned) return;
    const o = server.options();
    const p = o.keyPrefix;
    const first = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 200, logger: logs().logger });
    await first.start();
    await until(() => listedUnder(p, first), "the first process's heartbeat");
    // (a snapshot of Redis while the first process held the address: what a restart loads, or
    // what a replica that lagged holds when it is promoted)
    await redis.save();
    await first.stop();

    const { errors, logger } = logs();
    const second = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 200, logger });
    await second.start();
    cleanup.push(() => second.stop());
    await until(() => listedUnder(p, second), "the second process's heartbeat");
    // Redis restarts from the snapshot: the first process, stopped, is written under the address
    await server.restart();
    await until(() => listedUnder(p, second), 'the second process to heartbeat again', 15_000);
    await new Promise((r) => setTimeout(r, 1000));
    // one process ever ran at the address at a time: nothing to tell
    expect(errors.filter((e) => e.includes('another worker process'))).toEqual([]);
  }, 40_000);

  it('a partitioned swarm: twins are told once each, and a process restarted at the address is not', async () => {
    const o = server.options({ keyPrefix: `{twp${Date.now()}}:`, partitions: 2 });
    const a = logs();
    const b = logs();
    const wa = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 100, logger: a.logger });
    const wb = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 100, logger: b.logger });
    await wa.start();
    await wb.start();
    await until(() => a.errors.length > 0 && b.errors.length > 0, 'both told');
    await new Promise((r) => setTimeout(r, 500));
    expect(a.errors.filter((e) => e.includes('another worker process'))).toHaveLength(1);
    expect(b.errors.filter((e) => e.includes('another worker process'))).toHaveLength(1);
    await wa.stop();
    await wb.stop();
    const c = logs();
    const wc = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 100, logger: c.logger });
    await wc.start();
    cleanup.push(() => wc.stop());
    await new Promise((r) => setTimeout(r, 1000));
    expect(c.errors).toEqual([]);
  }, 30_000);

  it('hand-written junk in the field never makes register or renew raise', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const conn = server.client();
    cleanup.push(async () => conn.quit());
    const junk = [
      '',
      ' ',
      '@',
      '@@@@',
      'a@',
      '@1',
      'a@b@c@1',
      'x@' + '9'.repeat(400),
      'x@-5 y@1.5 z@1e30',
      'é@1 \u0000@2 \n@3',
      Array.from({ length: 5000 }, (_, i) => `p${i}@${'9'.repeat(15)}`).join(' '),
      'me-1-aaaaaaaa@' + '9'.repeat(20) + ' me-1-aaaaaaaa@1',
    ];
    for (const value of junk) {
      await redis.hset(keys.workerOwners, ADDRESS, value);
      await expect(registerWorker(conn as never, keys, ADDRESS, 100, { functions: [], maxPayloadBytes: 1024 }, 'me-1-aaaaaaaa')).resolves.toBeDefined();
      await redis.hset(keys.workerOwners, ADDRESS, value);
      await expect(renewLeases(conn as never, keys, ADDRESS, [], 100, 'me-1-aaaaaaaa')).resolves.toBeDefined();
      await redis.hset(keys.workerOwners, ADDRESS, value);
      await expect(deregisterWorker(conn as never, keys, ADDRESS, 'me-1-aaaaaaaa')).resolves.toBeUndefined();
      // (bounded: at most 8 entries stay under an address)
      expect(((await redis.hget(keys.workerOwners, ADDRESS)) ?? '').split(' ').filter(Boolean).length).toBeLessThanOrEqual(8);
    }
  });

  it('a workers:owners key of another type does not stop the heartbeat (a running task is not requeued as dead)', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const { warns, logger } = logs();
    let runs = 0;
    const w = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 200, logger });
    w.addTaskFunction('hold', () => {
      runs++;
      return sleep(9000);
    });
    cleanup.push(() => w.stop());
    // a second worker, at an address of its own, serves the same function
    const other = new Worker({ port: 0, redis: o, advertise: '10.255.255.4:7000', heartbeatInterval: 200, logger: logs().logger, fetchTaskInterval: 200 });
    other.addTaskFunction('hold', () => {
      runs++;
      return sleep(9000);
    });
    cleanup.push(() => other.stop());
    const m = new Monitor({ redis: o, taskTimeout: 1500, logger: logs().logger });
    cleanup.push(() => m.stop());
    await w.start();
    await m.start();
    await redis.lpush(keys.newQueue, JSON.stringify({ id: 't', function: 'hold' }));
    await until(async () => (await redis.hget(keys.task('t'), 'state')) === 'RUNNING', 't running');
    await other.start();
    // an app sharing the db, or an operator, writes a string where the hash was
    await redis.del(keys.workerOwners);
    await redis.set(keys.workerOwners, 'not a hash');
    await sleep(7000);
    const task = await redis.hgetall(keys.task('t'));
    // the heartbeat reads the field as empty and leaves the key alone: nothing said, t still
    // RUNNING here and nowhere else (were renew.lua to raise, the worker would take Redis for
    // lost, and the monitor requeue t as dead while it runs)
    expect({ heartbeatFailed: warns.some((l) => l.startsWith('heartbeat failed')), warnings: Math.min(warns.length, 10), runs, state: task.state, lastEvent: task.last_event ?? '' }).toEqual({
      heartbeatFailed: false,
      warnings: 0,
      runs: 1,
      state: 'RUNNING',
      lastEvent: expect.not.stringContaining('requeued'),
    });
  }, 40_000);

  it('a process of another host name gone before this one is not named when Redis goes back to an older copy of its data', async () => {
    if (!server.owned) return;
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const conn = server.client();
    // the process before, on a host that had another name (a container made again, its name
    // its id), heartbeats every 10 s: its entry is not overdue for 30 s
    const before = 'old-container-4242-0badcafe';
    await registerWorker(conn as never, keys, ADDRESS, 10_000, { functions: [], maxPayloadBytes: 1024 }, before);
    // (a snapshot: what a restart loads, or what a replica that lagged holds)
    await redis.save();
    await sleep(50);
    await renewLeases(conn as never, keys, ADDRESS, [], 10_000, before);
    await conn.quit();
    // ... and it dies (SIGKILL, OOM): nothing more of it. This one starts at the address.
    const { errors, logger } = logs();
    const w = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 200, logger });
    cleanup.push(() => w.stop());
    await w.start();
    await sleep(1000);
    expect(twinErrors(errors)).toEqual([]);
    await server.restart();
    await until(async () => ((await redis.hget(keys.workerOwners, ADDRESS)) ?? '').includes(ownerOf(w)), 'the worker to heartbeat again', 15_000);
    await sleep(1000);
    // one process ever ran at the address at a time: nothing to tell
    expect(twinErrors(errors)).toEqual([]);
  }, 40_000);

  it('the same, with the process before a worker process on another host name killed by SIGKILL', async () => {
    if (!server.owned) return;
    if (!hostsAvailable()) return console.warn('skipped: `unshare --uts` (root) is needed to run a worker under another host name');
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // the container before this one (its host name its id) heartbeats every 3 s
    const before = await spawnWorker({ redis: o, port: 0, advertise: ADDRESS, heartbeatInterval: 3000 }, onHost('c0ffee0ld'));
    cleanup.push(() => before.kill('SIGKILL'));
    const entry = async () => (await redis.hget(keys.workerOwners, ADDRESS)) ?? '';
    const registered = await entry();
    // (a snapshot of Redis as it registered: what a restart loads, or a replica that lagged holds)
    await redis.save();
    await until(async () => (await entry()) !== registered, 'its first heartbeat', 8000);
    await before.kill('SIGKILL');
    const { errors, logger } = logs();
    const w = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 200, logger });
    cleanup.push(() => w.stop());
    await w.start();
    await sleep(600);
    await server.restart();
    await until(async () => (await entry()).includes(ownerOf(w)), 'the worker to heartbeat again', 15_000);
    await sleep(1000);
    expect(twinErrors(errors)).toEqual([]);
  }, 40_000);

  it('a worker restarted under another host name that stops leaves no address listed for a process it saw stand still', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const conn = server.client();
    // the process before, on a host that had another name (a container made again), heartbeats
    // every second and dies (SIGKILL, OOM): its entry is not overdue for 3 s
    await registerWorker(conn as never, keys, ADDRESS, 1000, { functions: ['f'], maxPayloadBytes: 1024 }, 'old-container-4242-0badcafe');
    await conn.quit();
    const w = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 200, logger: logs().logger });
    await w.start();
    // a dozen heartbeats of w, more than two of the one before: its entry never moved (a
    // process gone, src/address-owners.ts)
    await sleep(2500);
    await w.stop();
    // nobody lives at the address: it is not listed, nor pinged by peers, nor counted as
    // serving `f`, for the two taskTimeouts until a monitor prunes it
    expect({ listed: await redis.sismember(keys.workerSet, ADDRESS), functions: await redis.hget(keys.workerFunctions, ADDRESS) }).toEqual({ listed: 0, functions: null });
  }, 20_000);

  it('a second process of this host under a live worker address that starts and stops leaves that worker listed, with what it serves', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // a serves `f` and heartbeats every 5 s; b (one `advertise` given to both) starts and stops
    // between two of a's heartbeats
    const a = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 5000, logger: logs().logger });
    a.addTaskFunction('f', () => 'ok');
    cleanup.push(() => a.stop());
    await a.start();
    // (both copies of one deployment: the functions an address serves are one field, the last
    // registration's)
    const b = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 5000, logger: logs().logger });
    b.addTaskFunction('f', () => 'ok');
    await b.start();
    await b.stop();
    // a lives: the docs say a stop of one leaves the address listed, with what it serves,
    // while another's heartbeats there are not overdue
    expect({
      listed: await redis.sismember(keys.workerSet, ADDRESS),
      seen: (await redis.zscore(keys.workerSeen, ADDRESS)) !== null,
      functions: await redis.hget(keys.workerFunctions, ADDRESS),
    }).toEqual({ listed: 1, seen: true, functions: JSON.stringify(['f']) });
  }, 20_000);

  it('entries that never fall overdue do not hide two live processes under one address from each other', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    // seven entries written with an overdue time far ahead (by hand, or by a Redis whose clock
    // ran years ahead and was set back)
    await redis.hset(keys.workerOwners, ADDRESS, Array.from({ length: 7 }, (_, i) => `ghost${i}-1-0000000${i}@99999999999999`).join(' '));
    const a = logs();
    const b = logs();
    const wa = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 100, logger: a.logger });
    const wb = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 100, logger: b.logger });
    cleanup.push(() => wa.stop(), () => wb.stop());
    await wa.start();
    await wb.start();
    await until(() => twinErrors(a.errors).length > 0 && twinErrors(b.errors).length > 0, 'both told', 5000).catch(() => {});
    expect({ a: twinErrors(a.errors).length, b: twinErrors(b.errors).length }).toEqual({ a: 1, b: 1 });
  }, 20_000);

  it('a stop beside a live twin on a slow link leaves the address listed, with its functions', async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const slow = await startProxy(o.host, o.port);
    cleanup.push(() => slow.close());
    slow.delay(80);
    const b = new Worker({ port: 0, advertise: ADDRESS, heartbeatInterval: 100, fetchWorkerInterval: 30_000, redis: { ...o, port: slow.port }, logger: quiet });
    b.addTaskFunction('f', async () => {});
    cleanup.push(() => b.stop());
    await b.start();
    const unlisted: number[] = [];
    for (let i = 0; i < 12; i++) {
      const a = new Worker({ port: 0, advertise: ADDRESS, heartbeatInterval: 100, redis: o, logger: quiet });
      a.addTaskFunction('f', async () => {});
      await a.start();
      // (a watches b move for a second first)
      await new Promise((r) => setTimeout(r, 1000 + 37 * i));
      await a.stop();
      const listed = await redis.sismember(keys.workerSet, ADDRESS);
      const fns = await redis.hexists(keys.workerFunctions, ADDRESS);
      if (!listed || !fns) unlisted.push(i);
      // (b lists the address again at its next heartbeat; its functions only at its next refresh)
      await redis.sadd(keys.workerSet, ADDRESS);
      await redis.hset(keys.workerFunctions, ADDRESS, JSON.stringify(['f']));
    }
    expect(unlisted, 'stops after which the address or its functions were gone, b heartbeating all along').toEqual([]);
  }, 60_000);
});
