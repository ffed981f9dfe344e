/**
 * Review of a swarm on a Redis Cluster once its slot has changed node (moveSwarmSlot, or a
 * failover to the replica), for a connection whose slot table still names the old node.
 *
 * ioredis follows a MOVED for a lone command, and for a pipeline only when every command in it
 * failed alike or merely read. A pipeline that also ran a keyless command (the worker's wait:
 * CLIENT ID before its block; atKey: the keyless command behind an EXISTS) comes back with the
 * MOVED errors as replies, and ioredis learns nothing from them: its slot table stays wrong, and
 * every later such pipeline goes to the old node again. The worker's blocking connection sends
 * nothing else, so an idle worker's wait failed with MOVED for good: each new task waited for a
 * backoff or a poll (seconds) instead of waking the block; and atKey ran its command (WAIT,
 * INFO, CLIENT UNBLOCK) on the old node while it answered for the new one.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot, Worker, type LoggerLike } from '../src/index.js';
import { atKey } from '../src/redis.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until } from './helpers/redis-server.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

/** longer than any bound below: a task picked up by the poll, not the wake, fails them */
const FETCH_MS = 8000;
const PICKUP_MS = 1500;

let d: ClusterDeployment;
let dir: string;

beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-review-cluster-redirects', { nodeTimeout: 1000 }));
}, 60_000);

afterAll(() => removeCluster(d, dir));

/** the port of the primary serving `prefix`'s slot, asked of a live node */
async function ownerOf(prefix: string): Promise<number> {
  const key = buildKeys(resolveRedisConfig({ cluster: d.seeds, keyPrefix: prefix })).newQueue;
  for (const n of d.nodes) {
    if (n.proc.exitCode !== null || n.proc.signalCode !== null) continue;
    const r = new Redis({ port: n.port, lazyConnect: true, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      const slot = Number(await r.cluster('KEYSLOT', key));
      const slots = (await r.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      return slots.find(([a, b]) => slot >= a && slot <= b)![2][1];
    } finally {
      r.disconnect();
    }
  }
  throw new Error('no live node');
}

async function primaryPorts(): Promise<number[]> {
  const r = new Redis({ port: d.seeds[0]!.port });
  try {
    return [...new Set(((await r.cluster('SLOTS')) as unknown as [number, number, [string, number]][]).map((s) => s[2][1]))];
  } finally {
    r.disconnect();
  }
}

function keeping(warnings: string[]): LoggerLike {
  return { debug() {}, info() {}, warn: (...a: unknown[]) => warnings.push(a.map(String).join(' ')), error: (...a: unknown[]) => warnings.push(a.map(String).join(' ')) };
}

/** an idle worker on `prefix`, with a client; `fault` moves the swarm's slot while the worker waits */
async function idleWorkerThrough(prefix: string, fault: () => Promise<void>): Promise<{ pickups: number[]; warnings: string[] }> {
  const redis = { cluster: d.seeds, keyPrefix: prefix };
  const warnings: string[] = [];
  const worker = new Worker({ port: 0, redis, heartbeatInterval: 300, fetchTaskInterval: FETCH_MS, logger: keeping(warnings) });
  worker.addTaskFunction('echo', async (task) => task.data);
  await worker.start();
  const client = new Client({ redis });
  try {
    expect(await client.wait(await client.submit('echo', 0), { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
    // blocked in its wait on the swarm's node
    await new Promise((r) => setTimeout(r, 300));
    await fault();
    // back to waiting (a failover takes it through redisDown first)
    await until(() => JSON.stringify(worker.state).includes('waiting'), 'the worker waiting again', 20_000, 20);
    await new Promise((r) => setTimeout(r, 300));
    const pickups: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const t = Date.now();
      const id = await client.submit('echo', i);
      expect(await client.wait(id, { timeout: FETCH_MS * 3 })).toMatchObject({ outcome: 'succeeded', result: i });
      pickups.push(Date.now() - t);
      // idle again between tasks: each pickup is a wake of the block
      await new Promise((r) => setTimeout(r, 200));
    }
    return { pickups, warnings: [...warnings] };
  } finally {
    await client.close();
    await worker.stop();
  }
}

describe('a swarm whose slot changed node, for a connection that still names the old one', () => {
  it('an idle worker blocked on the old node wakes for the next task on the new one after moveSwarmSlot', async () => {
    const prefix = '{idle-move}:';
    const from = await ownerOf(prefix);
    const to = (await primaryPorts()).find((p) => p !== from)!;
    const { pickups, warnings } = await idleWorkerThrough(prefix, async () => {
      expect((await moveSwarmSlot({ cluster: d.seeds, keyPrefix: prefix }, { host: '127.0.0.1', port: to })).keys).toBeGreaterThan(0);
    });
    expect(await ownerOf(prefix)).toBe(to);
    expect(warnings.filter((w) => /MOVED/.test(w))).toEqual([]);
    for (const ms of pickups) expect(ms).toBeLessThan(PICKUP_MS);
  }, 60_000);

  it('atKey runs its keyless command on the node that serves the key, though the connection learnt the slot elsewhere', async () => {
    const prefix = '{stale-table}:';
    const key = buildKeys(resolveRedisConfig({ cluster: d.seeds, keyPrefix: prefix })).newQueue;
    const conn = new Cluster(d.seeds);
    try {
      await conn.set(key, 'x');
      const from = await ownerOf(prefix);
      const port = async () => Number(/^tcp_port:(\d+)/m.exec((await atKey(conn, key, 'INFO', 'server')) as string)?.[1]);
      expect(await port()).toBe(from);
      const to = (await primaryPorts()).find((p) => p !== from)!;
      await moveSwarmSlot({ cluster: d.seeds, keyPrefix: prefix }, { host: '127.0.0.1', port: to });
      // this connection has sent nothing since: its table still names `from`
      expect(await port()).toBe(to);
      expect(await port()).toBe(to);
    } finally {
      conn.disconnect();
    }
  }, 30_000);

  it('an idle worker wakes for the next task on the promoted replica after the swarm primary is SIGKILLed', async () => {
    const prefix = '{idle-failover}:';
    const from = await ownerOf(prefix);
    const { pickups, warnings } = await idleWorkerThrough(prefix, async () => {
      await d.nodes.find((n) => n.port === from)!.kill('SIGKILL');
      await until(async () => (await ownerOf(prefix)) !== from, 'the replica promoted', 20_000, 100);
    });
    expect(warnings.filter((w) => /MOVED/.test(w))).toEqual([]);
    for (const ms of pickups) expect(ms).toBeLessThan(PICKUP_MS);
  }, 60_000);
});
