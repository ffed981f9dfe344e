/**
 * workers:owners at its edges: what a hand-written value does to the scripts that read it, a
 * process of another host name before this one when Redis goes back to an older copy of its
 * data, a second process of this host that starts and stops under a live one's address, and a
 * field full of entries that never fall overdue.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Monitor, Worker } from '../src/index.js';
import { deregisterWorker, registerWorker } from '../src/effects/registry.js';
import { renewLeases } from '../src/effects/leases.js';
import { hostsAvailable, onHost } from './helpers/host-name.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const ADDRESS = '10.255.255.3:7000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function logs() {
  const errors: string[] = [];
  const warns: string[] = [];
  return { errors, warns, logger: { debug() {}, info() {}, warn: (m: unknown) => void warns.push(String(m)), error: (m: unknown) => void errors.push(String(m)) } };
}
const ownerOf = (w: Worker) => (w as unknown as { owner: string }).owner;
const twinErrors = (errors: string[]) => errors.filter((e) => e.includes('another worker process'));

describe('workers:owners at its edges', () => {
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
      await expect(registerWorker(conn as never, keys, ADDRESS, 100, [], 'me-1-aaaaaaaa')).resolves.toBeDefined();
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
    await registerWorker(conn as never, keys, ADDRESS, 10_000, [], before);
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
    // every 5 s and dies (SIGKILL, OOM): its entry is not overdue for 15 s
    await registerWorker(conn as never, keys, ADDRESS, 5000, ['f'], 'old-container-4242-0badcafe');
    await conn.quit();
    const w = new Worker({ port: 0, redis: o, advertise: ADDRESS, heartbeatInterval: 200, logger: logs().logger });
    await w.start();
    // a dozen heartbeats of w: the entry before it never moved (a process gone, renew.lua)
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
});
