/**
 * Review of the ACL roles (src/acl.ts) on a Redis Cluster: each node loads the users made for
 * the swarm's prefix, and a worker, a monitor, a producer and an operator, each logged in as its
 * own user, do their job through the cluster with no permission error.
 *
 * ioredis's Cluster client checks that a node's cluster is ok before it uses it (CLUSTER INFO,
 * its ready check), besides learning the layout (CLUSTER SLOTS). With CLUSTER INFO refused, no
 * connection of any role ever became ready: a worker's start and a producer's submit waited
 * forever, a monitor's start failed after 5 s saying only "no connection".
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { aclFile, ACL_USERS, buildKeys, Client, Monitor, Worker, type AclRole } from '../src/index.js';
import { resolveRedisConfig } from '../src/config.js';
import { freePort, until } from './helpers/redis-server.js';
import { spawnCluster, type ClusterDeployment } from './helpers/deployments.js';

const PREFIX = '{acl-swarm}:';
let d: ClusterDeployment;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-cluster-acl-'));
  // the users made for this swarm's names, each with a password; the default user stays (the
  // cluster is created through it)
  const users = aclFile(resolveRedisConfig({ cluster: [{ host: '127.0.0.1', port: 1 }], keyPrefix: PREFIX })).replace(/^(user task-swarm-(\w+) .*)$/gm, '$1 >$2-pw');
  const file = join(dir, 'users.acl');
  writeFileSync(file, `${users}\nuser default on nopass ~* &* +@all\n`);
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  d = await spawnCluster(dir, ports.slice(0, 3), ports.slice(3), { replicas: 0, extra: ['--aclfile', file] });
}, 60_000);

afterAll(async () => {
  for (const n of d?.nodes ?? []) await n.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** subscribers of `channel` on every node together (a Cluster client subscribes on one of them) */
async function subscribers(channel: string): Promise<number> {
  let n = 0;
  for (const node of d.nodes) {
    const r = new Redis({ port: node.port });
    try {
      n += Number(((await r.call('PUBSUB', 'NUMSUB', channel)) as [string, number])[1]);
    } finally {
      r.disconnect();
    }
  }
  return n;
}

const as = (role: AclRole) => ({ cluster: d.seeds, keyPrefix: PREFIX, username: ACL_USERS[role], password: `${role}-pw` });

function keeping(lines: string[]) {
  const keep = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  return { debug: () => {}, info: () => {}, warn: keep, error: keep };
}

/** `p`, or a rejection that says what did not happen within `ms` (rather than the test's timeout) */
async function bounded<T>(what: string, ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the ACL roles on a Redis Cluster', () => {
  it('a worker, a monitor, a producer and an operator, each as its own user, do their job with no permission error', async () => {
    const logs: string[] = [];
    const worker = new Worker({ port: 0, redis: as('worker'), heartbeatInterval: 300, logger: keeping(logs) });
    worker.addTaskFunction('echo', async (t) => {
      t.emit('progress', { half: true });
      return t.data;
    });
    worker.addTaskFunction('long', (t) => new Promise((_, reject) => t.signal.addEventListener('abort', () => reject(new Error('stopped')))));
    const monitor = new Monitor({ redis: as('monitor'), checkTaskInterval: 300, logger: keeping(logs) });
    const producer = new Client({ redis: as('producer'), logger: keeping(logs) });
    const operator = new Client({ redis: as('operator'), logger: keeping(logs) });
    try {
      await bounded('worker.start', 10_000, worker.start());
      await bounded('monitor.start', 10_000, monitor.start());

      const events: string[] = [];
      producer.subscribe('watched', (e) => events.push(e.event));
      // (pub/sub keeps nothing: the subscription, made on some node of the cluster, is live first)
      const channel = buildKeys(resolveRedisConfig({ keyPrefix: PREFIX })).events('watched');
      await until(async () => (await subscribers(channel)) > 0, 'the client subscribed', 10_000, 50);
      const id = await bounded('producer.submit', 10_000, producer.submit('echo', { n: 1 }, { id: 'watched' }));
      expect(await producer.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: { n: 1 } });

      const running = await producer.submit('long');
      await until(async () => (await producer.get(running))?.state === 'RUNNING', 'the long task running', 10_000);
      await producer.control(running, 'stop');
      expect((await producer.wait(running, { timeout: 10_000 })).outcome).toBe('stopped');

      await bounded('operator.pause', 10_000, operator.pause('echo'));
      expect(await operator.stats()).toMatchObject({ functions: { echo: { paused: true } } });
      expect(await operator.resume('echo')).toBe(true);
      expect(await operator.deadLetters()).toEqual([]);
      await until(() => events.includes('end'), 'the end event', 5000);
      expect(logs.filter((l) => /NOPERM|permission/i.test(l))).toEqual([]);
    } finally {
      await Promise.allSettled([producer.close(), operator.close(), worker.stop(), monitor.stop()]);
    }
  }, 90_000);
});
