/**
 * Review of a swarm on a Redis Cluster none of whose nodes answers: given only closed ports, and
 * a cluster whose every node is killed while a client and a worker use it (then started again
 * from its files).
 *
 * ioredis's Cluster client keeps a command sent while it reaches no node in a queue of its own,
 * which it empties only when it stops retrying; `maxRetriesPerRequest` bounds the reconnects of
 * one node's connection, not that. A worker's start() and an existing client's submit or get
 * waited for as long as the cluster was away (forever, if it never came back), where against one
 * Redis they fail after a few reconnects. And the CLI's check before a command ("one ping, no
 * reconnects") built a plain connection to host/port, which a Cluster config leaves at their
 * defaults: it pinged 127.0.0.1:6379, whatever the cluster given. A cluster that answers but says
 * it is not ok (a slot served by no node) is refused in bounded time too, saying so.
 *
 * (The cases share one cluster: the two that kill nodes start them again, and wait for the
 * cluster to say ok, before they end, whether they pass or not; the cases run in any order.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, RedisUnavailableError, Worker } from '../src/index.js';
import { freePort, until } from './helpers/redis-server.js';
import { nodeArgs, spawnCluster, spawnServer, type ClusterDeployment, type ServerProcess } from './helpers/deployments.js';
import { runMain } from './helpers/cli.js';

let d: ClusterDeployment;
let dir: string;
let busPorts: number[];
/** each node's process now (a node started again replaces its first) */
let current: ServerProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-cluster-outage-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  busPorts = ports.slice(3);
  d = await spawnCluster(dir, ports.slice(0, 3), busPorts, { replicas: 0 });
  current = [...d.nodes];
}, 60_000);

afterAll(async () => {
  for (const n of current) await n.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** node `i` started again from its files (its cluster config, so it rejoins as it was) */
async function restart(i: number): Promise<void> {
  const port = d.nodes[i]!.port;
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(busPorts[i]), '--cluster-node-timeout', '2000', '--dbfilename', `dump-${port}.rdb`];
  current[i] = await spawnServer(nodeArgs(port, dir, args), port);
}

/** every node started again if it is down, and each saying cluster_state:ok */
async function wholeAgain(): Promise<void> {
  for (const [i, n] of current.entries()) if (n.proc.exitCode !== null || n.proc.signalCode !== null) await restart(i);
  // (each node updates its cluster_state on its own, a moment apart: under load the next case's
  // worker met one that still said fail)
  for (const n of current) {
    const live = new Redis({ port: n.port });
    await until(async () => /cluster_state:ok/.test((await live.cluster('INFO')) as string), `node ${n.port} ok again`, 20_000, 100);
    live.disconnect();
  }
}

/** how `p` settled within `ms`, and when; 'pending' if it did not */
async function settles(p: Promise<unknown>, ms: number): Promise<{ error?: Error; took: number } | 'pending'> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([
    p.then(
      () => ({ took: Date.now() - t0 }),
      (error: unknown) => ({ error: error as Error, took: Date.now() - t0 }),
    ),
    new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms))),
  ]);
  clearTimeout(timer);
  return r;
}

describe('a Redis Cluster that does not answer', () => {
  it('the CLI checks the cluster it is given: a live one works, closed ports are one clear line naming them', async () => {
    const live = await runMain(['status', '--json', '--redis-cluster', `127.0.0.1:${d.seeds[1]!.port}`]);
    expect(live.stderr).toBe('');
    expect(JSON.parse(live.stdout)).toMatchObject({ queued: 0 });

    const [a, b] = await Promise.all([freePort(), freePort()]);
    for (const [argv, env] of [
      [['status', '--redis-cluster', `127.0.0.1:${a},127.0.0.1:${b}`], {}],
      [['status'], { REDIS_URL: `redis+cluster://127.0.0.1:${a}` }],
    ] as const) {
      const r = await runMain([...argv], env);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`cannot reach Redis at redis\\+cluster://127\\.0\\.0\\.1:${a}\\S*: none of its nodes answered`));
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 30_000);

  it('given only closed ports: worker and monitor start, and a client call, are refused in bounded time', async () => {
    const [a, b] = await Promise.all([freePort(), freePort()]);
    const redis = { cluster: [{ host: '127.0.0.1', port: a }, { host: '127.0.0.1', port: b }] };
    const worker = new Worker({ port: 0, redis });
    const monitor = new Monitor({ redis });
    const client = new Client({ redis });
    try {
      for (const start of [() => worker.start(), () => monitor.start()]) {
        const r = await settles(start(), 20_000);
        expect(r).not.toBe('pending');
        const { error, took } = r as { error: Error; took: number };
        expect(error).toBeInstanceOf(RedisUnavailableError);
        expect(error.message).toMatch(/cannot reach Redis at redis\+cluster:\/\/\S+: none of its nodes answered/);
        expect(took).toBeLessThan(8000);
      }
      const r = await settles(client.get('some-id'), 40_000);
      expect(r).not.toBe('pending');
      expect((r as { error: Error }).error).toBeInstanceOf(Error);
    } finally {
      await Promise.allSettled([worker.stop(), monitor.stop(), client.close()]);
    }
  }, 90_000);

  it('one primary killed (no replica): the cluster says fail; a worker and a monitor start, and a new client submits, refused in bounded time saying so', async () => {
    await current[2]!.kill('SIGKILL');
    const live = new Redis({ port: d.nodes[0]!.port });
    await until(async () => /cluster_state:fail/.test((await live.cluster('INFO')) as string), 'the cluster in fail state', 10_000, 100);
    live.disconnect();
    const redis = { cluster: d.seeds.slice(0, 2) };
    const worker = new Worker({ port: 0, redis });
    const monitor = new Monitor({ redis });
    const client = new Client({ redis });
    try {
      for (const [call, bound] of [[() => worker.start(), 8000], [() => monitor.start(), 8000], [() => client.submit('echo', 1), 30_000]] as const) {
        const r = await settles(call(), 40_000);
        expect(r).not.toBe('pending');
        expect((r as { error: Error }).error.message).toMatch(/the cluster is not ready: .*cluster_state/);
        expect((r as { took: number }).took).toBeLessThan(bound);
      }
    } finally {
      await Promise.allSettled([worker.stop(), monitor.stop(), client.close()]);
      await wholeAgain();
    }
  }, 90_000);

  it('every node killed: a client made before refuses its calls in bounded time, a worker started now too; all work again once the cluster is back', async () => {
    const redis = { cluster: d.seeds };
    const client = new Client({ redis });
    const worker = new Worker({ port: 0, redis, heartbeatInterval: 300 });
    worker.addTaskFunction('echo', async (t) => t.data);
    worker.addTaskFunction('hold', (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    try {
      await worker.start();
      expect(await client.wait(await client.submit('echo', 1), { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
      const held = await client.submit('hold');
      await until(async () => (await client.get(held))?.state === 'RUNNING', 'the held task running', 5000);
      for (const n of current) await n.kill('SIGKILL');
      // (the client's connection has seen every node go)
      await new Promise((r) => setTimeout(r, 1000));

      const late = new Worker({ port: 0, redis });
      const calls = await Promise.all([settles(client.submit('echo', 2), 40_000), settles(client.get('some-id'), 40_000), settles(late.start(), 40_000)]);
      await late.stop();
      for (const r of calls) expect(r).not.toBe('pending');
      expect((calls[2] as { error: Error }).error).toBeInstanceOf(RedisUnavailableError);

      for (const i of d.nodes.keys()) await restart(i);
      // the same client and worker, with no restart of theirs
      const id = await until(() => client.submit('echo', 3).catch(() => undefined), 'a submit accepted again', 30_000, 500);
      expect(await client.wait(id, { timeout: 20_000 })).toMatchObject({ outcome: 'succeeded', result: 3 });
      // the task that ran through it (the nodes came back empty: the worker asserted it again),
      // stopped by a control message: the worker's subscription is back too
      await until(async () => (await client.get(held))?.state === 'RUNNING', 'the held task asserted again', 20_000, 200);
      // (once the worker's control subscription is made again on the restarted nodes: a message
      // published before it would reach no one, as pub/sub keeps nothing; slower on a loaded machine)
      await until(
        async () => {
          let patterns = 0;
          for (const n of d.nodes) {
            const r = new Redis({ port: n.port, lazyConnect: true, retryStrategy: () => null });
            r.on('error', () => {});
            try {
              await r.connect();
              patterns += Number(await r.call('PUBSUB', 'NUMPAT'));
            } catch {
              // not up yet
            } finally {
              r.disconnect();
            }
          }
          return patterns > 0;
        },
        "the worker's control subscription made again",
        20_000,
        200,
      );
      await client.control(held, 'stop');
      expect(await client.wait(held, { timeout: 10_000 })).toMatchObject({ outcome: 'stopped' });
    } finally {
      await Promise.allSettled([worker.stop(), client.close()]);
      await wholeAgain();
    }
  }, 120_000);
});
