/**
 * Redis Cluster for real: three primaries with a replica each (redis-server --cluster-enabled,
 * joined by redis-cli --cluster create), on free local ports. A swarm lives in one slot (its
 * keyPrefix's hash tag), so every script runs on one node; clients reach it from any node they
 * are given. Then the faults: the primary serving the swarm's slot SIGKILLed mid-run (its
 * replica is promoted; for the swarm, a Redis that came back having perhaps lost its latest
 * writes), and the swarm's slot moved to another primary mid-run. In both, every task ends,
 * none is lost, and no process is restarted.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, moveSwarmSlot, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until } from './helpers/redis-server.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import type { WorkerProcess } from './helpers/processes.js';
import { runMain } from './helpers/cli.js';
import { swarmThroughFault } from './helpers/swarm-through-fault.js';

const TASKS = 150;
const TASK_MS = 200;

const procs: WorkerProcess[] = [];
let d: ClusterDeployment;
let dir: string;

/** three primaries with a replica each, in a directory of their own */
beforeAll(async () => {
  ({ dep: d, dir } = await deployCluster('task-swarm-cluster'));
}, 60_000);

afterAll(async () => {
  for (const p of procs) await p.kill('SIGKILL');
  await removeCluster(d, dir);
});

/** a plain connection to each node, for looking at where things are */
async function nodeOf(prefix: string, dep = d): Promise<{ slot: number; port: number }> {
  const c = new Cluster(dep.seeds.slice(0, 1));
  try {
    await c.ping();
    const key = buildKeys(resolveRedisConfig({ cluster: dep.seeds, keyPrefix: prefix })).newQueue;
    const slot = Number(await c.cluster('KEYSLOT', key));
    const slots = (await c.cluster('SLOTS')) as unknown as [number, number, [string, number]][];
    const owner = slots.find(([a, b]) => slot >= a && slot <= b)!;
    return { slot, port: owner[2][1] };
  } finally {
    c.disconnect();
  }
}

/** every key that starts with `prefix`, per node port (each primary SCANned) */
async function keysByNode(prefix: string): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  for (const n of d.nodes) {
    const r = new Redis({ port: n.port, lazyConnect: true, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      if (!/role:master/.test(await r.info('replication'))) continue;
      let cursor = '0';
      let count = 0;
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix.replace(/[{}*?[\]\\]/g, (c) => `\\${c}`)}*`, 'COUNT', 1000);
        cursor = next;
        count += keys.length;
      } while (cursor !== '0');
      if (count) out.set(n.port, count);
    } catch {
      // a killed node
    } finally {
      r.disconnect();
    }
  }
  return out;
}

/** the swarm on `prefix` through `fault` (test/helpers/swarm-through-fault.ts) */
function runThrough(prefix: string, fault: () => Promise<void>, dep = d): Promise<{ twice: string[] }> {
  return swarmThroughFault({ redis: { cluster: dep.seeds, keyPrefix: prefix }, producerRedis: { url: `redis+cluster://${dep.seeds.map((s) => `127.0.0.1:${s.port}`).join(',')}`, keyPrefix: prefix }, tasks: TASKS, taskMs: TASK_MS, procs }, fault);
}

describe('a swarm on a Redis Cluster', () => {
  it('lives in one slot ({task-swarm}: by default), reached from any node; events and control go across nodes', async () => {
    // given one node only, and one that does not serve the swarm's slot: the client learns the rest
    const home = await nodeOf('{task-swarm}:');
    const elsewhere = d.seeds.find((s) => s.port !== home.port)!;
    const redis = { cluster: [elsewhere] };
    const worker = new Worker({ port: 0, redis, concurrency: 4, heartbeatInterval: 200 });
    worker.addTaskFunction('echo', async (task) => {
      task.emit('progress', { at: 1 });
      if ((task.data as { hold?: boolean }).hold) await new Promise((r) => task.signal.addEventListener('abort', r));
      return task.data;
    });
    await worker.start();
    const client = new Client({ redis });
    try {
      const ids = await Promise.all(Array.from({ length: 20 }, (_, i) => client.submit('echo', { i })));
      for (const [i, id] of ids.entries()) expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: { i } });

      // a task's events reach a subscriber, and a stop published from the client ends the task
      const held = await client.submit('echo', { hold: true });
      const events: string[] = [];
      const off = client.subscribe(held, (ev) => events.push(ev.event));
      await off.ready; // (its end, published before the subscription is live, would be gone)
      await until(async () => (await client.get(held))?.state === 'RUNNING', 'the held task running', 10_000, 20);
      await client.control(held, 'stop');
      expect(await client.wait(held, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'stopped' });
      await until(() => events.includes('end'), 'the end event', 5_000, 20);
      off();

      // every key of the swarm is on the node that serves its slot, and only there
      expect([...(await keysByNode('{task-swarm}:')).keys()]).toEqual([home.port]);
    } finally {
      await client.close();
      await worker.stop();
    }
  }, 60_000);

  it('a client whose first call comes while the cluster is still connecting is not refused as a replica', async () => {
    // (ioredis lists its seeds as primaries until it has read the cluster's slots: the server
    // check must wait for that, whenever the first call comes)
    for (const wait of [0, 1, 5, 20]) {
      const client = new Client({ redis: { cluster: d.seeds, keyPrefix: '{early}:' } });
      await new Promise((r) => setTimeout(r, wait));
      await expect(client.submit('echo', wait)).resolves.toEqual(expect.any(String));
      await client.close();
    }
  }, 60_000);

  it('two swarms with other hash tags land on their own slots, each whole on its node', async () => {
    const tags = ['{alpha}:', '{beta}:', '{gamma}:', '{delta}:'];
    for (const keyPrefix of tags) {
      const redis = { cluster: d.seeds, keyPrefix };
      const worker = new Worker({ port: 0, redis, concurrency: 2 });
      worker.addTaskFunction('echo', async (task) => task.data);
      await worker.start();
      const client = new Client({ redis });
      const id = await client.submit('echo', 1);
      expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
      await client.close();
      await worker.stop();
    }
    const homes = await Promise.all(tags.map((t) => nodeOf(t)));
    for (const [i, keyPrefix] of tags.entries()) expect([...(await keysByNode(keyPrefix)).keys()]).toEqual([homes[i]!.port]);
    // (spread over shards: these four tags are not all on one primary)
    expect(new Set(homes.map((h) => h.port)).size).toBeGreaterThan(1);
  }, 60_000);

  it('redis.durable: the WAIT goes to the primary that took the writes, and a replica of it that does not answer fails the submit', async () => {
    const prefix = '{durable}:';
    const home = await nodeOf(prefix);
    const admin = new Redis({ port: home.port });
    const myId = (await admin.cluster('MYID')) as string;
    const nodesText = (await admin.cluster('NODES')) as string;
    admin.disconnect();
    const replicaPort = Number(/^\S+ [^:]+:(\d+)@\S* \S*slave\S* (\S+)/m.exec(nodesText.split('\n').filter((l) => l.includes(myId) && l.includes('slave')).join('\n'))?.[1]);
    const replica = d.nodes.find((n) => n.port === replicaPort)!;
    expect(replica).toBeDefined();
    // (2 s: a healthy replica acknowledges in a few ms, but under a loaded machine's full suite
    // one took over 300 ms)
    const client = new Client({ redis: { cluster: d.seeds, keyPrefix: prefix, durable: true, durableTimeout: 2000 } });
    try {
      // every primary has a replica: only a WAIT on the swarm's own primary tells its replica is gone
      await expect(client.submit('echo', 1)).resolves.toEqual(expect.any(String));
      replica.proc.kill('SIGSTOP');
      try {
        // (several: a WAIT sent to any node would find a replica that answers on most of them)
        for (let i = 0; i < 4; i++) await expect(client.submit('echo', 2 + i)).rejects.toMatchObject({ code: 'ERR_NOT_DURABLE' });
      } finally {
        replica.proc.kill('SIGCONT');
      }
    } finally {
      await client.close();
    }
  }, 60_000);

  it('the swarm moved to another primary mid-run (all its keys at once): every task runs once and ends once', async () => {
    const prefix = '{moving}:';
    const before = await nodeOf(prefix);
    const to = d.seeds.find((s) => s.port !== before.port && d.nodes.slice(0, 3).some((n) => n.port === s.port))!;
    let moved = 0;
    const { twice } = await runThrough(prefix, async () => {
      moved = (await moveSwarmSlot({ cluster: d.seeds, keyPrefix: prefix }, to)).keys;
    });
    expect(moved).toBeGreaterThan(0);
    expect((await nodeOf(prefix)).port).toBe(to.port);
    expect([...(await keysByNode(prefix)).keys()]).toEqual([to.port]);
    // nothing was written twice or lost in the move: no claim was repeated
    expect(twice).toEqual([]);
    // moved back by the CLI, the swarm is whole where it started (a move is repeatable)
    const seeds = d.seeds.map((s) => `127.0.0.1:${s.port}`).join(',');
    const back = await runMain(['move-slot', '--to', `127.0.0.1:${before.port}`, '--key-prefix', prefix, '--redis-cluster', seeds]);
    expect(back).toMatchObject({ code: 0 });
    expect(back.stdout).toMatch(new RegExp(`^slot ${before.slot}: \\d+ key\\(s\\) moved from 127\\.0\\.0\\.1:${to.port} to 127\\.0\\.0\\.1:${before.port}\\n$`));
    // a mistake is one line
    const bad = await runMain(['move-slot', '--to', 'nowhere', '--key-prefix', prefix, '--redis-cluster', seeds]);
    expect(bad).toMatchObject({ code: 2, stdout: '' });
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect([...(await keysByNode(prefix)).keys()]).toEqual([before.port]);
  }, 120_000);
});

// A cluster of its own: the SIGKILL leaves a primary dead and its replica promoted, which the
// tests above, on the shared cluster, do not expect whatever order they run in.
describe('a swarm on a Redis Cluster whose primary dies', () => {
  let own: ClusterDeployment;
  let ownDir: string;
  beforeAll(async () => {
    ({ dep: own, dir: ownDir } = await deployCluster('task-swarm-cluster'));
  }, 60_000);
  afterAll(async () => {
    await removeCluster(own, ownDir);
  });

  it('the primary serving the swarm SIGKILLed mid-run: its replica is promoted, every task ends, no process restarted', async () => {
    const prefix = '{failing}:';
    const home = await nodeOf(prefix, own);
    const primary = own.nodes.find((n) => n.port === home.port)!;
    await runThrough(prefix, () => primary.kill('SIGKILL'), own);
    const after = await nodeOf(prefix, own);
    expect(after.port).not.toBe(home.port);

    // the CLI reaches the promoted primary through the cluster too, in both forms
    const alive = own.seeds.filter((s) => s.port !== home.port);
    for (const [argv, env] of [
      [['status', '--json', '--key-prefix', prefix, '--redis-cluster', alive.map((s) => `127.0.0.1:${s.port}`).join(',')], {}],
      [['status', '--json', '--key-prefix', prefix], { REDIS_URL: `redis+cluster://127.0.0.1:${alive[0]!.port}` }],
    ] as const) {
      const r = await runMain([...argv], env);
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toMatchObject({ queued: 0 });
    }
  }, 120_000);
});
