/**
 * redis.durable: a submit and an END count once that many replicas acknowledged them (WAIT), so
 * that a failover cannot lose them. With fewer within redis.durableTimeout, submit rejects with
 * a NotDurableError naming its tasks (they are queued on the primary), and a worker still ends
 * the task and logs that its END is not confirmed. Caused for real: a replica of the test's own
 * primary, frozen with SIGSTOP.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, ConfigError, NotDurableError, Worker } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { freePort, spawnRedis } from '../tools/redis-process.js';
import { until } from './helpers/redis-server.js';
import { runMain } from './helpers/cli.js';

const dirs: string[] = [];
let primary: ChildProcess;
let replica: ChildProcess;
let primaryPort = 0;
let primaryAdmin: Redis;
let replicaAdmin: Redis;
let prefixes = 0;
const cleanup: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'durable-'));
    dirs.push(d);
    return d;
  };
  primaryPort = await freePort();
  primary = await spawnRedis({ port: primaryPort, dir: dir() });
  const replicaPort = await freePort();
  replica = await spawnRedis({ port: replicaPort, dir: dir() });
  primaryAdmin = new Redis({ port: primaryPort });
  replicaAdmin = new Redis({ port: replicaPort });
  await replicaAdmin.replicaof('127.0.0.1', String(primaryPort));
  await until(async () => (await replicaAdmin.info('replication')).includes('master_link_status:up'), 'the replica linked');
});

afterEach(async () => {
  replica.kill('SIGCONT');
  while (cleanup.length) await cleanup.pop()!();
});

afterAll(async () => {
  primaryAdmin?.disconnect();
  replicaAdmin?.disconnect();
  primary?.kill('SIGKILL');
  replica?.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const options = (extra: Record<string, unknown> = {}) => ({ host: '127.0.0.1', port: primaryPort, keyPrefix: `durable${++prefixes}:`, ...extra });

function client(redis: Record<string, unknown>): Client {
  const c = new Client({ redis });
  cleanup.push(() => c.close());
  return c;
}

async function waits(): Promise<number> {
  const line = (await primaryAdmin.info('commandstats')).split('\r\n').find((l) => l.startsWith('cmdstat_wait:'));
  return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
}

describe('redis.durable', () => {
  it('resolves a submit once the replica holds the task, and waits for it after every END', async () => {
    const o = options({ durable: true });
    const c = client(o);
    await c.stats(); // (connected)
    const w0 = await waits();
    const id = await c.submit('f', 1);
    expect(await waits()).toBe(w0 + 1);
    // acknowledged: the replica has it at the moment submit resolves
    expect(await replicaAdmin.lrange(`${o.keyPrefix}new-task`, 0, -1)).toEqual([expect.stringContaining(id)]);
    const w = new Worker({ port: 0, redis: o, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    cleanup.push(() => w.stop());
    w.addTaskFunction('f', (t) => t.data);
    const before = await waits();
    await w.start();
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 1 });
    await until(async () => (await waits()) > before, 'a WAIT after the END', 2000);
    expect(await replicaAdmin.hget(`${o.keyPrefix}task-${id}`, 'state')).toBe('END');
  });

  it('rejects a submit the replica did not acknowledge in time with a NotDurableError naming its tasks, which are queued on the primary', async () => {
    const o = options({ durable: 1, durableTimeout: 300 });
    const c = client(o);
    replica.kill('SIGSTOP');
    const t0 = Date.now();
    const err = await c.submitMany([{ fn: 'f', data: 1 }, { fn: 'f', data: 2 }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotDurableError);
    expect(err).toMatchObject({ code: 'ERR_NOT_DURABLE', acknowledged: 0 });
    expect((err as Error).message).toMatch(/submit of 2 tasks: written on the primary, but 0 of the 1 replica\(s\) redis.durable asks for acknowledged it within 300 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
    const ids = (err as NotDurableError).taskIds;
    expect(ids).toHaveLength(2);
    const queued = await primaryAdmin.lrange(`${o.keyPrefix}new-task`, 0, -1);
    for (const id of ids) expect(queued.some((e) => e.includes(id))).toBe(true);
  });

  it('ends the task all the same when the replica does not acknowledge its END, and logs that a failover could lose it', async () => {
    const o = options({ durable: 1, durableTimeout: 300 });
    const warnings: string[] = [];
    const w = new Worker({ port: 0, redis: o, logger: { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} } });
    cleanup.push(() => w.stop());
    w.addTaskFunction('f', (t) => t.data);
    await w.start();
    const c = client({ ...o, durable: 0 });
    replica.kill('SIGSTOP');
    const id = await c.submit('f', 7);
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 7 });
    await until(() => warnings.some((m) => m.includes(`END of task "${id}"`)), 'the warning of the END', 3000);
    expect(warnings.find((m) => m.includes(id))).toMatch(/0 of the 1 replica\(s\) .* within 300 ms; a failover now could lose it/);
  });

  it('is asked for on the command line too (--redis-durable true): a submit the frozen replica does not acknowledge is one clear line', async () => {
    const o = options();
    replica.kill('SIGSTOP');
    const url = `redis://127.0.0.1:${primaryPort}`;
    const r = await runMain(['submit', 'f', '{"x":1}', '--redis-url', url, '--key-prefix', o.keyPrefix, '--redis-durable', 'true', '--redis-durable-timeout', '200']);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/0 of the 1 replica\(s\) --redis-durable asks for acknowledged it within 200 ms/);
    const bad = await runMain(['submit', 'f', '--redis-url', url, '--redis-durable', 'yes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--redis-durable must be an integer/);
  });

  it('is a number of replicas: true is 1, false is 0, anything else is refused naming the option', () => {
    expect(resolveRedisConfig({ durable: true }).durable).toBe(1);
    expect(resolveRedisConfig({ durable: false }).durable).toBe(0);
    expect(resolveRedisConfig({ durable: 2 }).durable).toBe(2);
    expect(resolveRedisConfig({}).durable).toBe(0);
    expect(() => new Client({ redis: { durable: -1 } })).toThrow(ConfigError);
    expect(() => resolveRedisConfig({ durable: -1 })).toThrow(/redis\.durable must be >= 0/);
    expect(() => resolveRedisConfig({ durable: 'yes' })).toThrow(/redis\.durable must be an integer/);
    expect(() => resolveRedisConfig({ durableTimeout: 0 })).toThrow(/redis\.durableTimeout must be >= 1/);
  });
});
