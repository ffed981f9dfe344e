/**
 * The command deadlines of src/command-deadlines.ts on a Redis Cluster connection, where a call
 * is not always in a queue of a node the Cluster lists: it waits in the Cluster's delay queue
 * between redirections (CLUSTERDOWN, MOVED, TRYAGAIN, a node gone), and a node the Cluster
 * drops from its pool (its slots gone to a promoted replica) is listed no more while what was
 * written to it waits for its socket to close. Each call still fails at its deadline, as
 * ioredis's own timer per call made it; looked for in the queues of the nodes listed, it did
 * not (the first was answered by the new primary after its deadline, the second failed for
 * good only after its redirections ran out, many seconds on). A call made on one node's
 * connection itself (a worker's start asks INFO of every primary and loads its library on each,
 * src/server-version.ts, src/scripts.ts) has its deadline too, as the nodes' `commandTimeout`
 * gave it: a primary that does not answer fails those calls, not waited for for ever.
 */
import type { Cluster } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { commandDeadlines } from '../src/command-deadlines.js';
import { Worker } from '../src/index.js';
import { connect, type Connection } from '../src/redis.js';
import { resolveRedisConfig } from '../src/config.js';
import { until } from './helpers/redis-server.js';
import { clusterView, deployCluster, keyHome, removeCluster, swarmHome, type ClusterDeployment } from './helpers/deployments.js';

const KEY = '{deadlines}:x';

/** how long `call` took to settle, and how; `hung` when it had not settled after `capMs` */
async function settle(call: Promise<unknown>, capMs: number): Promise<{ ms: number; error?: string; value?: unknown; hung?: true }> {
  const t0 = performance.now();
  let cap: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((r) => (cap = setTimeout(() => r('hung'), capMs)));
  try {
    const value = await Promise.race([call, hung]);
    if (value === 'hung') return { ms: performance.now() - t0, hung: true };
    return { ms: performance.now() - t0, value };
  } catch (e) {
    return { ms: performance.now() - t0, error: (e as Error).message };
  } finally {
    clearTimeout(cap);
  }
}

const opened: { conn: Connection; stop: () => void }[] = [];
function open(d: ClusterDeployment, timeoutMs: number): Connection {
  const conn = connect(resolveRedisConfig({ cluster: d.seeds }), 'command', 'deadlines-cluster-test', { enableAutoPipelining: false });
  conn.on('error', () => {});
  opened.push({ conn, stop: commandDeadlines(conn, timeoutMs) });
  return conn;
}
afterEach(() => {
  for (const { conn, stop } of opened.splice(0)) {
    stop();
    conn.disconnect();
  }
});

/** the port of the primary serving KEY, as the node on `port` sees the cluster */
const homeOf = (port: number) => keyHome(port, KEY);

describe('command deadlines on a Cluster', () => {
  let d: ClusterDeployment | undefined;
  let dir: string | undefined;
  const frozen: ClusterDeployment['nodes'][number][] = [];
  afterEach(async () => {
    for (const n of frozen.splice(0)) n.proc.kill('SIGCONT');
    await removeCluster(d, dir);
    d = dir = undefined;
  });
  afterAll(async () => {
    await removeCluster(d, dir);
  });

  it('a call written to a frozen primary fails at its deadline though the Cluster drops that node (its replica promoted)', async () => {
    ({ dep: d, dir } = await deployCluster('task-swarm-deadlines-failover', { nodeTimeout: 1000 }));
    const TIMEOUT = 3000;
    const conn = open(d, TIMEOUT);
    expect(await conn.set(KEY, '1')).toBe('OK');
    const home = await homeOf(d.seeds[0]!.port);
    const primary = d.nodes.find((n) => n.port === home)!;
    const others = d.nodes.filter((n) => n !== primary);
    primary.proc.kill('SIGSTOP');
    frozen.push(primary);
    // its replica promoted: every other node says the cluster is ok and that primary failed
    await until(
      async () => {
        for (const n of others) {
          const { info, nodes } = await clusterView(n.port);
          if (!/^cluster_state:ok/m.test(info)) return false;
          if (!nodes.split('\n').some((l) => l.includes(`:${home}@`) && /\bfail\b/.test(l))) return false;
        }
        return (await homeOf(others[0]!.port)) !== home;
      },
      'the frozen primary failed over',
      30_000,
      100,
    );
    // (ioredis has not learnt the new layout yet: the call goes to the frozen node)
    const call = settle(conn.get(KEY), TIMEOUT + 5000);
    // the layout asked again (as a MOVED, a CLUSTERDOWN or a node's closed connection have it
    // do): the frozen node holds no slot, and is dropped from the pool with the call on it
    const cluster = conn as Cluster & { refreshSlotsCache(): void };
    await until(
      () => {
        cluster.refreshSlotsCache();
        return !cluster.nodes('all').some((n) => n.options.port === home);
      },
      'the frozen node dropped from the pool',
      TIMEOUT - 500,
      50,
    );
    const r = await call;
    // settled by its deadline: failed at it, or answered before it (that node's connection
    // closed meanwhile, and the call was sent again to the new primary)
    // (timers fire late on a busy machine: a failure is allowed a second's slack, an answer none)
    expect(r.hung).toBeUndefined();
    if (r.error !== undefined) {
      expect(r.error).toBe('Command timed out');
      expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT - 5);
      expect(r.ms).toBeLessThan(TIMEOUT + 1000);
    } else expect(r.ms).toBeLessThan(TIMEOUT);
  }, 120_000);

  it('a call bounced by CLUSTERDOWN, waiting out the delay between its tries, fails at its deadline', async () => {
    // no replicas, full coverage required: a primary frozen puts the whole cluster down
    ({ dep: d, dir } = await deployCluster('task-swarm-deadlines-clusterdown', { nodeTimeout: 1000, replicas: 0 }));
    const TIMEOUT = 1000;
    const conn = open(d, TIMEOUT);
    expect(await conn.set(KEY, '1')).toBe('OK');
    const home = await homeOf(d.seeds[0]!.port);
    const victim = d.nodes.find((n) => n.port !== home)!;
    victim.proc.kill('SIGSTOP');
    frozen.push(victim);
    await until(async () => /^cluster_state:fail/m.test((await clusterView(home)).info), 'the cluster down', 30_000, 100);
    // (every try answered CLUSTERDOWN at once, then sent again 200 ms later, up to 64 times)
    // (several, one after another: each is caught at its deadline, not only one in a queue then)
    for (let i = 0; i < 5; i++) {
      const r = await settle(conn.get(KEY), 20_000);
      expect(r.error).toBe('Command timed out');
      expect(r.ms).toBeGreaterThanOrEqual(TIMEOUT - 5);
      expect(r.ms).toBeLessThan(TIMEOUT + 1000);
    }
  }, 120_000);

  it("a worker's start while a primary that does not serve its swarm is frozen ends: what it asks of that node fails at its deadline", async () => {
    ({ dep: d, dir } = await deployCluster('task-swarm-deadlines-other-frozen', { nodeTimeout: 1000, replicas: 0, extra: ['--cluster-require-full-coverage', 'no'] }));
    const prefix = '{deadlines}:';
    const home = await swarmHome(d.seeds, prefix);
    const victim = d.nodes.find((n) => n.port !== home)!;
    victim.proc.kill('SIGSTOP');
    frozen.push(victim);
    for (const n of d.nodes.filter((x) => x !== victim)) {
      await until(
        async () => {
          const { info, nodes } = await clusterView(n.port);
          return /^cluster_state:ok/m.test(info) && nodes.split('\n').some((l) => l.includes(`:${victim.port}@`) && /\bfail\b/.test(l));
        },
        `node ${n.port} serving without the frozen one`,
        15_000,
        100,
      );
    }
    // (a command timeout of 1 s: 2 heartbeats)
    const worker = new Worker({ port: 0, redis: { cluster: d.seeds, keyPrefix: prefix }, heartbeatInterval: 500 });
    worker.addTaskFunction('echo', async (t) => t.data);
    try {
      // (it fails, the calls of its registration on that node timed out, as it did with the
      // nodes' own timeouts; waiting for that node's INFO, it never ended)
      const r = await settle(worker.start(), 20_000);
      expect(r.hung).toBeUndefined();
      if (r.error !== undefined) expect(r.error).toMatch(/Command timed out/);
    } finally {
      await settle(worker.stop(), 10_000);
    }
  }, 120_000);
});
