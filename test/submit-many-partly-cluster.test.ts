/**
 * A submitMany over a swarm's partitions on a Redis Cluster (a share per partition, each on its
 * primary), one share's answer lost with its node's connection: what its PartlySubmittedError
 * says of each task must be true of what the nodes hold; a lone submit so too. The client reaches
 * each primary through a TCP proxy of its own (the nodes announce the proxies' ports:
 * cluster-announce-port), so a share's reply can be on its way while its connection is cut.
 * The first four, and the eighth, failed before their fix (src/outage-guard.ts):
 * - a share that ran, its answer lost, sent again by the Cluster (a pipeline sent again makes its
 *   commands' promises anew) and refused then (out of memory) after its node's connection was
 *   down a second: listed "not submitted"; a lone submit, told as the bare OOM refusal;
 * - the same share, sent again to a node whose new connection never answers its handshake: failed
 *   at the patience as "nothing was sent" (a call waiting in a node's queue read as never
 *   written): the fates said "not known", the message not; a lone submit was told "nothing was
 *   sent", and made again its task would be queued twice; so too when every node went away and
 *   it was sent again into the Cluster's own queue (the eighth).
 * The fifth to seventh held, and guard the fix: a submit that only waited for a node's
 * connection is told that nothing was sent, and a share never written, refused, "not submitted";
 * a share whose node is frozen (SIGSTOP) past the patience is "not known", and runs when it wakes.
 * The last held too: a share whose connection is killed (CLIENT KILL) with its answer on its way
 * is sent again, finds its own tasks, and the call answers every task, each queued once.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, PartlySubmittedError, RedisUnavailableError } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { partitionPrefix } from '../src/partition-keys.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { until } from './helpers/redis-server.js';

const N = 3;
let d: ClusterDeployment | undefined;
let dir: string | undefined;
/** a proxy per primary, by the primary's own port */
const proxies = new Map<number, TcpProxy>();
let seeds: { host: string; port: number }[] = [];
const clients: Client[] = [];
const admins: Redis[] = [];

beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-partly-cluster', { replicas: 0 }));
  for (const n of d.nodes) {
    const p = await startProxy('127.0.0.1', n.port);
    proxies.set(n.port, p);
    const admin = new Redis({ port: n.port });
    await admin.config('SET', 'cluster-announce-port', String(p.port));
    admin.disconnect();
  }
  seeds = [...proxies.values()].map((p) => ({ host: '127.0.0.1', port: p.port }));
  // (every node sees every other at its proxy's port)
  const announced = new Set(seeds.map((s) => s.port));
  for (const n of d.nodes) {
    const admin = new Redis({ port: n.port });
    await until(async () => {
      const slots = (await admin.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
      return slots.length > 0 && slots.every((s) => announced.has(s[2][1])) ? true : undefined;
    }, 'the proxies announced', 20_000, 100);
    admin.disconnect();
  }
}, 90_000);
afterAll(async () => {
  for (const p of proxies.values()) await p.close();
  await removeCluster(d, dir);
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  for (const a of admins.splice(0)) {
    await a.config('SET', 'maxmemory', '0').catch(() => {});
    a.disconnect();
  }
  for (const p of proxies.values()) p.heal();
});

/** partition `p` (of `n`): its keys, its primary's port (real) and a connection to it */
async function partition(keyPrefix: string, p: number, n = N): Promise<{ keys: ReturnType<typeof buildKeys>; port: number; admin: Redis; proxy: TcpProxy }> {
  const keys = buildKeys(resolveRedisConfig({ cluster: seeds, keyPrefix: partitionPrefix(keyPrefix, p, n) }));
  const first = new Redis({ port: d!.nodes[0]!.port });
  const slot = Number(await first.cluster('KEYSLOT', keys.newQueue));
  const ranges = (await first.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
  first.disconnect();
  const announced = ranges.find(([lo, hi]) => slot >= lo && slot <= hi)![2][1];
  const port = [...proxies].find(([, px]) => px.port === announced)![0];
  const admin = new Redis({ port });
  admins.push(admin);
  return { keys, port, admin, proxy: proxies.get(port)! };
}

async function failure(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => undefined,
    (x: unknown) => x,
  );
}

/** the ids of `ids` Redis holds a task for (read by a client of its own) */
async function held(keyPrefix: string, ids: readonly string[]): Promise<string[]> {
  const reader = new Client({ redis: { cluster: seeds, keyPrefix, partitions: N } });
  clients.push(reader);
  const found = await Promise.all(ids.map(async (id) => ((await reader.get(id)) ? id : undefined)));
  return found.filter((id): id is string => id !== undefined);
}

/** a client over N partitions that has submitted to each (every slot known), partition 1, and its queue's length */
async function spread(keyPrefix: string) {
  const client = new Client({ redis: { cluster: seeds, keyPrefix, partitions: N } });
  clients.push(client);
  await client.submitMany(Array.from({ length: 30 }, (_, i) => ({ fn: 'f', data: `warm-${i}` })));
  const b = await partition(keyPrefix, 1);
  return { client, b, before: await b.admin.llen(b.keys.newQueue) };
}

/** a client of one partition that has submitted once, its partition and keys */
async function lone(keyPrefix: string) {
  const client = new Client({ redis: { cluster: seeds, keyPrefix } });
  clients.push(client);
  await client.submit('f', 'warm-up');
  const b = await partition(keyPrefix, 0, 1);
  return { client, b, keys: buildKeys(resolveRedisConfig({ cluster: seeds, keyPrefix })) };
}

/** 300 tasks, numbered */
const three = () => Array.from({ length: 300 }, (_, i) => ({ fn: 'f', data: i }));

/**
 * `call` made with every chunk through `b`'s proxy 300 ms each way; once `b`'s queue is longer
 * than `before` (what it wrote there has run, its answer on its way back), the connection is
 * cut. Then `refused`: `b` fills up (maxmemory) and the proxy lets connections in after 1 s, so
 * what is sent again is refused before it runs; `silent`: the next connections are let in and
 * never answered. Resolves with what the call rejected with, and how much `b`'s queue grew.
 */
async function answerLost(b: Awaited<ReturnType<typeof partition>>, queue: string, before: number, call: () => Promise<unknown>, then: 'refused' | 'silent'): Promise<{ e: unknown; ran: number }> {
  b.proxy.delay(300);
  const made = failure(call());
  await until(async () => (await b.admin.llen(queue)) > before, 'the call to run', 10_000, 5);
  const ran = (await b.admin.llen(queue)) - before;
  if (then === 'refused') {
    await b.admin.config('SET', 'maxmemory-policy', 'noeviction');
    await b.admin.config('SET', 'maxmemory', '1');
    b.proxy.reset();
    await new Promise((r) => setTimeout(r, 1000));
    b.proxy.heal();
  } else {
    b.proxy.reset();
    b.proxy.partition();
  }
  const e = await made;
  b.proxy.heal();
  await b.admin.config('SET', 'maxmemory', '0');
  return { e, ran };
}

describe('a submitMany over partitions on a Cluster, a share whose answer was lost', () => {
  it('sent again by ioredis and refused then (out of memory): the share that ran is not told "not submitted"', async () => {
    const keyPrefix = '{pa}:';
    const { client, b, before } = await spread(keyPrefix);
    const { e, ran } = await answerLost(b, b.keys.newQueue, before, () => client.submitMany(three()), 'refused');

    expect(await b.admin.llen(b.keys.newQueue)).toBe(before + ran);
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    // (before: the share that ran, its resend refused, listed "not submitted")
    expect(await held(keyPrefix, p.notSubmitted)).toEqual([]);
    expect(p.unknown.length).toBe(ran);
  }, 60_000);

  it('a lone submit on a Cluster, sent again and refused then (out of memory): not told as the bare refusal', async () => {
    const { client, b, keys } = await lone('{pb}:');
    const { e } = await answerLost(b, keys.newQueue, 1, () => client.submit('f', 'lone'), 'refused');

    expect(await b.admin.llen(keys.newQueue)).toBe(2);
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expect((e as Error).message).toMatch(/its first sending may have run/);
  }, 60_000);

  it('sent again to a node that then does not answer its handshake: the share, failed at the patience, is not told "not submitted"', async () => {
    const keyPrefix = '{pc}:';
    const { client, b, before } = await spread(keyPrefix);
    const { e, ran } = await answerLost(b, b.keys.newQueue, before, () => client.submitMany(three()), 'silent');

    expect(await b.admin.llen(b.keys.newQueue)).toBe(before + ran);
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    expect(await held(keyPrefix, p.notSubmitted)).toEqual([]);
    expect(p.unknown.length).toBe(ran);
    // (its cause said "nothing was sent", of a share that ran)
    expect(p.message).not.toMatch(/nothing was sent/);
  }, 60_000);

  it('a lone submit sent again to a node that then does not answer its handshake: not told that nothing was sent', async () => {
    const { client, b, keys } = await lone('{pd}:');
    const { e } = await answerLost(b, keys.newQueue, 1, () => client.submit('f', 'lone'), 'silent');

    expect(await b.admin.llen(keys.newQueue)).toBe(2);
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expect((e as Error).message).not.toMatch(/nothing was sent/);
    expect((e as Error).message).toMatch(/may (still )?(run|have run)/);
  }, 60_000);

  it('a lone submit made while its node does not answer the handshake of a new connection: told that nothing was sent', async () => {
    const { client, b, keys } = await lone('{pe}:');

    // (its connection cut, nothing on its way; the next connections are let in and never answered)
    b.proxy.reset();
    b.proxy.partition();
    await new Promise((r) => setTimeout(r, 500));
    const e = await failure(client.submit('f', 'lone'));
    b.proxy.heal();

    expect(await b.admin.llen(keys.newQueue)).toBe(1);
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expect((e as Error).message).toMatch(/nothing was sent/);
  }, 60_000);

  it('a share whose node is frozen (SIGSTOP) past the patience: told not known, and it runs when the node wakes', async () => {
    const keyPrefix = '{pf}:';
    const { client, b, before } = await spread(keyPrefix);
    const frozen = d!.nodes.find((n) => n.port === b.port)!;

    frozen.proc.kill('SIGSTOP');
    let e: unknown;
    try {
      e = await failure(client.submitMany(three()));
    } finally {
      frozen.proc.kill('SIGCONT');
    }
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    expect(p.notSubmitted).toEqual([]);
    expect(p.unknown.length).toBeGreaterThan(0);
    expect(await held(keyPrefix, p.submitted)).toEqual(p.submitted);
    // (woken, the node runs what was written to it: every task not known is then queued, once)
    await until(async () => (await b.admin.llen(b.keys.newQueue)) === before + p.unknown.length, 'the frozen share to run', 10_000);
    expect(await held(keyPrefix, p.unknown)).toEqual(p.unknown);
  }, 60_000);

  it('a share that waited for its node\'s connection, never written, then refused (out of memory): told "not submitted"', async () => {
    const keyPrefix = '{pg}:';
    const { client, b, before } = await spread(keyPrefix);

    // (its connection cut, the next ones let in and never answered: the share waits for one)
    b.proxy.reset();
    b.proxy.partition();
    await new Promise((r) => setTimeout(r, 300));
    await b.admin.config('SET', 'maxmemory-policy', 'noeviction');
    await b.admin.config('SET', 'maxmemory', '1');
    const call = failure(client.submitMany(three()));
    await new Promise((r) => setTimeout(r, 1000));
    // (that connection cut too, before it wrote anything: the share is sent on the next, and refused)
    b.proxy.reset();
    await new Promise((r) => setTimeout(r, 100));
    b.proxy.heal();
    const e = await call;
    await b.admin.config('SET', 'maxmemory', '0');

    expect(await b.admin.llen(b.keys.newQueue)).toBe(before);
    expect(e).toBeInstanceOf(PartlySubmittedError);
    const p = e as PartlySubmittedError;
    expect(await held(keyPrefix, p.submitted)).toEqual(p.submitted);
    expect(p.unknown).toEqual([]);
    expect(p.notSubmitted.length).toBeGreaterThan(0);
    expect(await held(keyPrefix, p.notSubmitted)).toEqual([]);
  }, 60_000);

  it('a lone submit whose answer was lost as every node went away, sent again into the Cluster\'s own queue and failed there: not told that nothing was sent', async () => {
    const { client, b, keys } = await lone('{ph}:');

    b.proxy.delay(300);
    const call = failure(client.submit('f', 'lone'));
    await until(async () => (await b.admin.llen(keys.newQueue)) === 2, 'the submit to run', 10_000, 5);
    // (every node's connection cut, the next ones let in and never answered: the Cluster reconnects)
    for (const px of proxies.values()) {
      px.reset();
      px.partition();
    }
    const e = await call;
    for (const px of proxies.values()) px.heal();

    expect(await b.admin.llen(keys.newQueue)).toBe(2);
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expect((e as Error).message).not.toMatch(/nothing was sent/);
  }, 60_000);

  it('a share whose connection is killed (CLIENT KILL) while its answer is on its way: sent again, it finds its own tasks, and every task is queued once', async () => {
    const keyPrefix = '{pj}:';
    const { client, b, before } = await spread(keyPrefix);

    b.proxy.delay(300);
    const call = client.submitMany(three());
    await until(async () => (await b.admin.llen(b.keys.newQueue)) > before, 'the share to run', 10_000, 5);
    const ran = (await b.admin.llen(b.keys.newQueue)) - before;
    await b.admin.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    const ids = await call;

    expect(ids.length).toBe(300);
    expect(new Set(ids).size).toBe(300);
    expect(await b.admin.llen(b.keys.newQueue)).toBe(before + ran);
    expect(await held(keyPrefix, ids)).toEqual(ids);
  }, 60_000);
});
