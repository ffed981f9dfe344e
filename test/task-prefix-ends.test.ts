/**
 * finish.lua makes a task's hash and events channel from the task key prefix and the id (src/keys.ts
 * makes the same names in TypeScript): under a taskPrefix of its own, a hash-tagged keyPrefix cut
 * into partitions, on one Redis or a Cluster, with ids of odd bytes, every END and retry lands on
 * the task's own hash and channel, alone (finish.lua) or with the next claim (finish-claim.lua),
 * and nothing is written under any other name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, type Redis } from 'ioredis';
import { Client, Worker } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionKeys, partitionOf } from '../src/partitions.js';
import { redisPerFile } from './helpers/suite.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Tasks of odd ids that succeed, fail, and fail once then succeed, run under `opts` (its own
 * taskPrefix); `conn` reads their hashes and hears their channels, `allKeys` lists every key.
 */
async function endsLandWhereKeysSay(opts: Record<string, unknown>, conn: Redis | Cluster, allKeys: () => Promise<string[]>): Promise<void> {
  const parts = partitionKeys(resolveRedisConfig(opts));
  const keysOf = (id: string) => parts[partitionOf(id, parts.length)]!;
  const c = new Client({ redis: opts });
  const w = new Worker({ port: 0, redis: opts, concurrency: 2, fetchTaskInterval: 100, logger: quiet });
  cleanup.push(
    () => c.close(),
    () => w.stop(),
  );
  const failedOnce = new Set<string>();
  w.addTaskFunction('f', (t) => {
    const d = t.data as { fail?: boolean; retry?: boolean };
    if (d.fail) throw new Error('no');
    if (d.retry && !failedOnce.has(t.id)) {
      failedOnce.add(t.id);
      throw new Error('once');
    }
    return t.id;
  });

  const odd = ['plain', 'é ü 日本', 'with space', '{braces}', 'a-events', 'star*?[x]', 'x\ny', '😀'];
  const cases = odd.flatMap((base) => [
    { id: `${base}:ok`, data: {}, outcome: 'succeeded', retried: 0 },
    { id: `${base}:fail`, data: { fail: true }, outcome: 'failed', retried: 1 },
    { id: `${base}:retry`, data: { retry: true }, outcome: 'succeeded', retried: 1 },
  ]);
  // every task's channel, as keys.ts names it, heard before anything runs
  const sub = conn.duplicate();
  cleanup.push(() => sub.quit());
  const heard = new Map<string, string[]>();
  sub.on('message', (channel: string, message: string) => {
    const list = heard.get(channel) ?? [];
    list.push((JSON.parse(message) as { event: string }).event);
    heard.set(channel, list);
  });
  await sub.subscribe(...cases.map((k) => keysOf(k.id).events(k.id)));

  // (queued before the worker starts: each batch of ENDs finds more to claim, and rides with that claim)
  await c.submitMany(cases.map((k) => ({ fn: 'f', data: k.data, options: { id: k.id, attempts: 2, backoff: 1 } })));
  await w.start();
  for (const k of cases) {
    expect(await c.wait(k.id, { timeout: 10_000 }), k.id).toMatchObject({ outcome: k.outcome });
    expect(await conn.hgetall(keysOf(k.id).task(k.id)), k.id).toMatchObject({ state: 'END', outcome: k.outcome });
  }
  // (the events of the last ENDs are on their way: polled, then a pause for a second one to show)
  await until(() => cases.every((k) => heard.get(keysOf(k.id).events(k.id))?.includes('end')), 'every end event heard', 10_000).catch(() => {});
  await new Promise((r) => setTimeout(r, 200));
  for (const k of cases) {
    const events = heard.get(keysOf(k.id).events(k.id)) ?? [];
    expect(events.filter((e) => e === 'end'), k.id).toHaveLength(1);
    expect(events.filter((e) => e === 'retrying'), k.id).toHaveLength(k.retried);
  }
  // nothing under any other name: the task hashes are these, and no key has the default task prefix
  const all = await allKeys();
  expect(all.filter((key) => parts.some((p) => key.startsWith(p.taskKeyPrefix))).sort()).toEqual(cases.map((k) => keysOf(k.id).task(k.id)).sort());
  expect(all.filter((key) => key.includes('task-'))).toEqual([]);
}

describe('ENDs under a custom task prefix', () => {
  it.each([1, 3])('write the hash and publish on the channel keys.ts names (%i partitions), alone or with a claim', async (partitions) => {
    const keyPrefix = `{tp${partitions}}:`;
    await endsLandWhereKeysSay(server.options({ keyPrefix, taskPrefix: 'job/', partitions }), redis, () => redis.keys(`*{tp${partitions}*`));
  });
});

describe('ENDs under a custom task prefix on a Redis Cluster', () => {
  let d: ClusterDeployment;
  let dir: string;
  beforeAll(async () => {
    ({ dep: d, dir } = await deployCluster('task-swarm-prefix-cluster', { replicas: 0 }));
  }, 60_000);
  afterAll(() => removeCluster(d, dir));

  it('write the hash and publish on the channel keys.ts names, in partitions on three primaries', async () => {
    const conn = new Cluster(d.seeds);
    cleanup.push(() => conn.quit());
    const allKeys = async () => (await Promise.all(conn.nodes('master').map((n) => n.keys('*')))).flat();
    await endsLandWhereKeysSay({ cluster: d.seeds, keyPrefix: '{tpc}:', taskPrefix: 'job/', partitions: 3 }, conn, allKeys);
  });
});
