/**
 * Two live worker processes under one address (hosts behind NAT with the same private address,
 * containers on a default bridge, one `advertise` given to two): each is told, naming the other,
 * and the dashboard shows the address's two processes. A stop of one leaves the address listed
 * for the other, whichever heartbeats faster; the stop of the last one alive unlists it, a
 * killed twin notwithstanding. A worker restarted at its own address is never taken for a
 * second process, and the dashboard shows it as one once the killed one has missed two
 * heartbeats.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnersWatch, readWorkers } from '../src/dashboard/worker-view.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { keysFor } from './properties/harness.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let n = 0;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

const ADDRESS = '10.255.255.1:7000';
const TWIN = /^ERROR another worker process \("([^"]+)"\) heartbeats under this worker's address 10\.255\.255\.1:7000: .*give each worker an address of its own/;

describe('two worker processes under one address', () => {
  it('each is told, naming the other; a stop of one leaves the address listed for the other', async () => {
    const prefix = `twins${++n}:`;
    const options = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS, heartbeatInterval: 100 };
    const procs: WorkerProcess[] = [];
    try {
      procs.push(await spawnWorker(options), await spawnWorker(options));
      const [a, b] = procs as [WorkerProcess, WorkerProcess];
      const toldA = TWIN.exec(await a.waitFor(TWIN, 10_000))![1]!;
      const toldB = TWIN.exec(await b.waitFor(TWIN, 10_000))![1]!;
      // (each names the other: two processes, not one told of itself)
      expect(toldA).not.toBe(toldB);
      expect(toldA).toMatch(/-\d+-[0-9a-f]{8}$/);
      expect(a.lines.filter((l) => TWIN.test(l))).toHaveLength(1);
      // the dashboard shows the address's two processes, once it has seen each heartbeat
      const watch = new OwnersWatch();
      const shown = async () => (await readWorkers(redis, [keysFor(prefix)], watch)).workers.map((w) => [w.address, w.processes.length]);
      await until(async () => JSON.stringify(await shown()) === JSON.stringify([[ADDRESS, 2]]), 'the dashboard to show two processes');
      // a stops gracefully: b still serves under the address, so the address stays listed,
      // with the functions b serves (no heartbeat of b's writes them again)
      expect(await a.kill('SIGTERM')).toBe(0);
      expect(await redis.sismember(`${prefix}workers`, ADDRESS)).toBe(1);
      expect(await redis.hexists(`${prefix}workers:functions`, ADDRESS)).toBe(1);
      await new Promise((r) => setTimeout(r, 400));
      expect(await shown()).toEqual([[ADDRESS, 1]]);
      // b, stopping last, takes it out
      expect(await b.kill('SIGTERM')).toBe(0);
      expect(await redis.sismember(`${prefix}workers`, ADDRESS)).toBe(0);
      expect(await redis.hexists(`${prefix}workers:owners`, ADDRESS)).toBe(0);
    } finally {
      for (const p of procs) await p.kill('SIGKILL');
    }
  }, 40_000);

  it('a worker restarted at its address after a SIGKILL is not taken for a second process', async () => {
    const prefix = `twins${++n}:`;
    const options = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS, heartbeatInterval: 100 };
    const first = await spawnWorker(options);
    await until(async () => (await redis.hget(`${prefix}workers:owners`, ADDRESS)) !== null, 'the first process to heartbeat');
    await first.kill('SIGKILL');
    const second = await spawnWorker(options);
    try {
      // (twenty heartbeats of the second, under the address the first held and never gave back:
      // the first is forgotten there, and the second is the one process listed)
      const names = async () => ((await redis.hget(`${prefix}workers:owners`, ADDRESS)) ?? '').split(' ').map((e) => e.split('@')[0]);
      const [owner] = await names();
      // (the dashboard, reading as it does every refresh, never counts the first among them:
      // its entry, not overdue for three of its heartbeats, stands still)
      const watch = new OwnersWatch();
      const counts: number[] = [];
      for (let i = 0; i < 20; i++) {
        counts.push(...(await readWorkers(redis, [keysFor(prefix)], watch)).workers.map((w) => w.processes.length));
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(Math.max(...counts)).toBe(1);
      expect(counts.at(-1)).toBe(1);
      expect(await names()).toEqual([owner]);
      expect(second.lines.filter((l) => /^ERROR/.test(l))).toEqual([]);
    } finally {
      await second.kill('SIGKILL');
    }
  }, 40_000);

  it('a stop of the faster of two live processes leaves the address listed for the slower one', async () => {
    const prefix = 'paces:';
    const base = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS };
    const procs: WorkerProcess[] = [];
    try {
      const fast = await spawnWorker({ ...base, heartbeatInterval: 100 });
      procs.push(fast);
      const slow = await spawnWorker({ ...base, heartbeatInterval: 1000 });
      procs.push(slow);
      // the fast one is told of the slow one: it knows it lives
      const slowName = TWIN.exec(await fast.waitFor(TWIN, 15_000))![1]!;
      const slowOverdue = async () => {
        const v = (await redis.hget(`${prefix}workers:owners`, ADDRESS)) ?? '';
        return v.split(' ').find((e) => e.startsWith(`${slowName}@`));
      };
      // just after a heartbeat of the slow one, give the fast one three of its own (the slow
      // one's entry stands still between them, as it does between nine in ten of them), then stop it
      const before = await slowOverdue();
      await until(async () => (await slowOverdue()) !== before, 'a heartbeat of the slow one', 5000);
      await new Promise((r) => setTimeout(r, 350));
      expect(await fast.kill('SIGTERM')).toBe(0);
      // the slow one still heartbeats under the address: it stays listed, with its functions
      expect(await redis.sismember(`${prefix}workers`, ADDRESS)).toBe(1);
      expect(await redis.hexists(`${prefix}workers:functions`, ADDRESS)).toBe(1);
      // (and its next heartbeats do not write its functions again)
      await new Promise((r) => setTimeout(r, 2500));
      expect(await redis.hexists(`${prefix}workers:functions`, ADDRESS)).toBe(1);
      expect(slow.lines.filter((l) => /^ERROR/.test(l) && !TWIN.test(l))).toEqual([]);
    } finally {
      for (const p of procs) await p.kill('SIGKILL');
    }
  }, 40_000);

  it('the stop of the last live process under an address unlists it, its killed twin notwithstanding', async () => {
    const prefix = 'crashed-twin:';
    const base = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS };
    const procs: WorkerProcess[] = [];
    try {
      const stays = await spawnWorker({ ...base, heartbeatInterval: 100 });
      procs.push(stays);
      const killed = await spawnWorker({ ...base, heartbeatInterval: 3000 });
      procs.push(killed);
      await stays.waitFor(TWIN, 15_000); // (it saw the other move: a live twin)
      await killed.kill('SIGKILL');
      // (gone once it has missed two of its heartbeats: src/address-owners.ts)
      await new Promise((r) => setTimeout(r, 7000));
      expect(await stays.kill('SIGTERM')).toBe(0);
      expect(await redis.sismember(`${prefix}workers`, ADDRESS)).toBe(0);
    } finally {
      for (const p of procs) await p.kill('SIGKILL');
    }
  }, 40_000);

  it('a worker killed and started again at its address is shown as one process once the killed one has missed two heartbeats', async () => {
    const prefix = 'restart:';
    const parts = [keysFor(prefix)];
    const base = { redis: server.options({ keyPrefix: prefix }), port: 0, advertise: ADDRESS, heartbeatInterval: 1500 };
    const owners = new OwnersWatch();
    const processes = async () => (await readWorkers(redis, parts, owners)).workers.find((w) => w.address === ADDRESS)?.processes ?? [];
    const procs: WorkerProcess[] = [];
    try {
      const first = await spawnWorker(base);
      procs.push(first);
      // the dashboard sees it heartbeat
      await until(async () => (await processes()).length === 1, 'the first process shown', 10_000);
      // killed, and started again at once
      await first.kill('SIGKILL');
      const killedAt = Date.now();
      const second = await spawnWorker(base);
      procs.push(second);
      // the dashboard reads on, as its ticker does: the killed one's entry, which it saw move,
      // counts until it has missed two heartbeats (src/address-owners.ts), never after
      const shown: [number, number][] = [];
      const end = Date.now() + 6000;
      while (Date.now() < end) {
        shown.push([Date.now() - killedAt, (await processes()).length]);
        await new Promise((r) => setTimeout(r, 100));
      }
      // (never none: the one just started is shown while it has yet to move)
      expect(Math.min(...shown.map(([, n]) => n))).toBe(1);
      const afterTwoBeats = shown.filter(([t]) => t > 2 * 1500 + 500).map(([, n]) => n);
      expect(afterTwoBeats.length).toBeGreaterThan(10);
      expect(Math.max(...afterTwoBeats)).toBe(1);
      expect(Math.min(...afterTwoBeats)).toBe(1);
    } finally {
      for (const p of procs) await p.kill('SIGKILL');
    }
  }, 40_000);
});
