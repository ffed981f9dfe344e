/**
 * A Redis that may evict keys (any maxmemory-policy but noeviction) loses tasks without a word
 * when it fills up, and an evicted worker list or outage hold has running tasks requeued while
 * they run. Such a Redis is said at start-up: by a worker and a monitor in their logs as they
 * start, and by every CLI command that works with the swarm's tasks, as one warning line on
 * stderr; a policy set later is in a monitor's metrics (task_swarm_redis_may_evict), for an
 * alert. Nothing is refused: a managed Redis may not let its user change the policy. On a
 * Cluster each primary is asked, and the warning names the ones that may evict.
 */
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { checkServer } from '../src/server-version.js';
import { runMain } from './helpers/cli.js';
import { readExposition } from './helpers/exposition.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});


const EVICTS = /has maxmemory-policy (\S+): (when it is full|once a maxmemory is set) it evicts keys: an evicted task is lost without a word.*Set it to noeviction \(CONFIG SET maxmemory-policy noeviction, and in redis\.conf\)/;

/** the test server with this policy and maxmemory (each test sets both: the file's tests run in any order) */
async function policy(name: string, maxmemory = '0'): Promise<void> {
  await redis.config('SET', 'maxmemory-policy', name);
  await redis.config('SET', 'maxmemory', maxmemory);
}

describe('a Redis that may evict keys is said at start-up', () => {
  it('a worker and a monitor each say so once, naming the policy and the fix, and run as usual', async () => {
    await policy('allkeys-lru', '512mb');
    const o = server.options();
    const w = collectingLogger();
    const m = collectingLogger();
    const worker = new Worker({ port: 0, redis: o, logger: w.logger });
    worker.addTaskFunction('echo', async (t) => t.data);
    const monitor = new Monitor({ redis: o, logger: m.logger });
    cleanup.push(() => worker.stop(), () => monitor.stop());
    await worker.start();
    await monitor.start();
    for (const warnings of [w.lines, m.lines]) {
      const said = warnings.filter((l) => EVICTS.test(l));
      expect(said, warnings.join('\n')).toHaveLength(1);
      expect(said[0]).toContain(`Redis at redis://127.0.0.1:${server.port} has maxmemory-policy allkeys-lru: when it is full`);
    }
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const id = await client.submit('echo', { n: 1 });
    expect((await client.wait(id, { timeout: 10_000 })).result).toEqual({ n: 1 });
  });

  it('every policy but noeviction is one (volatile-* take the keys with a TTL first), with or without a maxmemory', async () => {
    for (const [name, maxmemory, when] of [
      ['volatile-lru', '512mb', 'when it is full'],
      ['volatile-ttl', '0', 'once a maxmemory is set'],
      ['allkeys-random', '0', 'once a maxmemory is set'],
    ] as const) {
      await policy(name, maxmemory);
      const { lines: warnings, logger } = collectingLogger();
      const worker = new Worker({ port: 0, redis: server.options(), logger });
      cleanup.push(() => worker.stop());
      await worker.start();
      await worker.stop();
      expect(warnings.filter((l) => EVICTS.test(l)), `${name}: ${warnings.join('\n')}`).toEqual([expect.stringContaining(`has maxmemory-policy ${name}: ${when}`)]);
    }
  });

  it('noeviction (Redis\'s default) is not said', async () => {
    await policy('noeviction', '512mb');
    const { lines: warnings, logger } = collectingLogger();
    const worker = new Worker({ port: 0, redis: server.options(), logger });
    const monitor = new Monitor({ redis: server.options(), logger });
    cleanup.push(() => worker.stop(), () => monitor.stop());
    await worker.start();
    await monitor.start();
    expect(warnings.filter((l) => /maxmemory-policy/.test(l))).toEqual([]);
    const r = await runMain(['--key-prefix', server.options().keyPrefix, 'status'], { REDIS_URL: `redis://127.0.0.1:${server.port}` });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('a CLI command says it on stderr, one warning line, and does its work (exit 0, its output unchanged)', async () => {
    await policy('allkeys-lfu', '512mb');
    const env = { REDIS_URL: `redis://127.0.0.1:${server.port}` };
    const prefix = server.options().keyPrefix;
    for (const argv of [['status'], ['submit', 'echo', '{"n":2}'], ['dashboard', '--help']]) {
      const r = await runMain(['--key-prefix', prefix, ...argv], env);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stderr.split('\n').filter(Boolean);
      if (argv.includes('--help')) {
        expect(lines).toEqual([]); // (help asks no Redis)
        continue;
      }
      expect(lines, argv.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(/^task-swarm: warning: Redis at redis:\/\/127\.0\.0\.1:\d+ has maxmemory-policy allkeys-lfu: when it is full/);
      expect(r.stdout).not.toMatch(/maxmemory/);
    }
    const r = await runMain(['--key-prefix', prefix, 'status', '--json'], env);
    expect(r.code).toBe(0);
    expect(() => JSON.parse(r.stdout)).not.toThrow();
  });
});

describe('a policy set after the start-up check', () => {
  it("is in a monitor's metrics from its next scrape: task_swarm_redis_may_evict 1, and 0 once it is noeviction again (ops/alerts.yml TaskSwarmRedisMayEvict)", async () => {
    await policy('noeviction', '512mb');
    const monitor = new Monitor({ redis: server.options() });
    cleanup.push(() => monitor.stop());
    await monitor.start();
    const gauge = async () => readExposition(await monitor.metrics()).samples('task_swarm_redis_may_evict').map((x) => x.value);
    expect(await gauge()).toEqual([0]);
    await policy('volatile-lfu', '512mb');
    expect(await gauge()).toEqual([1]);
    await policy('noeviction', '512mb');
    expect(await gauge()).toEqual([0]);
  });
});

describe('on a Cluster', () => {
  let d: ClusterDeployment | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    ({ dep: d, dir } = await deployCluster('task-swarm-eviction-policy', { replicas: 0 }));
  }, 60_000);
  afterAll(() => removeCluster(d, dir));

  it('each primary is asked: the warning names the ones that may evict, and only those', async () => {
    const [a, b] = d!.nodes;
    const conn = new Cluster(d!.seeds, { lazyConnect: true });
    const nodes = [a!, b!].map((n) => new Redis({ host: '127.0.0.1', port: n.port }));
    try {
      expect((await checkServer(conn, 'Redis')).eviction).toBeUndefined();
      await nodes[1]!.config('SET', 'maxmemory-policy', 'volatile-lru');
      const { eviction } = await checkServer(conn, 'Redis');
      expect(eviction).toMatch(new RegExp(`^Redis \\(node 127\\.0\\.0\\.1:${b!.port}\\) has maxmemory-policy volatile-lru`));
      expect(eviction).not.toContain(`:${a!.port})`);
    } finally {
      await nodes[1]!.config('SET', 'maxmemory-policy', 'noeviction');
      for (const n of nodes) n.disconnect();
      conn.disconnect();
    }
  });
});
