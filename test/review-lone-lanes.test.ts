/**
 * A worker of concurrency 10 to 31 counts the swarm's workers with every claim (claim.lua's
 * optional KEYS[11], SCARD): lanes while it is the swarm's only worker. What that count must not
 * break, against a real Redis:
 * - a worker under the ACL rules of the version before this one (the rules belong to a version,
 *   docs/deployments.md, but rules made before SCARD was in claim.lua are what a swarm upgraded
 *   without reloading them runs under): the count is refused, and the claim must still run, one
 *   claim at a time, rather than fail every time (the default concurrency is 10: every worker).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { aclRule } from '../src/acl.js';
import { resolveRedisConfig } from '../src/config.js';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';
import { stateCounts, submitInBatches } from './helpers/task-batches.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
/** a logger that keeps every warning and error */
function keeping(lines: string[]) {
  const keep = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  return { debug: () => {}, info: () => {}, warn: keep, error: keep };
}

describe('the count of workers a claim makes', () => {
  it('refused by ACL rules that predate it (no SCARD), the worker still claims: every task ends', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const admin = new Redis({ host: o.host, port: o.port });
    const r = new Redis(o);
    cleanup.push(() => admin.disconnect(), () => r.disconnect());
    // the worker's rules as this version makes them, less the one command it added to claim.lua
    const rule = aclRule('worker', resolveRedisConfig({ keyPrefix: o.keyPrefix }));
    expect(rule).toContain(' +scard ');
    const before = rule.replace(' +scard ', ' ');
    await admin.call('ACL', 'SETUSER', 'old-worker', ...before.split(' '), '>pw');
    const logs: string[] = [];
    const w = new Worker({ port: 0, redis: { ...o, username: 'old-worker', password: 'pw' }, fetchTaskInterval: 300, logger: keeping(logs) });
    w.addTaskFunction('quick', async () => null);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => w.stop());
    const ids = await submitInBatches(c, 'quick', 50);
    await w.start();
    await until(async () => (await stateCounts(r, ids)).get('END') === ids.length, 'every task ended', 10_000).catch((e: Error) => {
      throw new Error(`${e.message}; the worker logged: ${logs.slice(0, 3).join(' | ')}`);
    });
    expect(logs.filter((l) => /NOPERM|permission|can't run/i.test(l))).toEqual([]);
  }, 30_000);
});
