/**
 * workers:owners under faults and timings the first file does not reach: a twin whose stop
 * lands right after its own heartbeat, and a Redis whose data goes back to an older copy (a
 * restart from an older snapshot, a failover to a replica that lagged) while a worker
 * restarted at its address is the only process there.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { Worker } from '../src/index.js';
import { hostsAvailable, onHost } from './helpers/host-name.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const ADDRESS = '10.255.255.2:7000';

function logs() {
  const errors: string[] = [];
  return { errors, logger: { debug() {}, info() {}, warn() {}, error: (m: unknown) => void errors.push(String(m)) } };
}
const ownerOf = (w: Worker) => (w as unknown as { owner: string }).owner;
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
});
