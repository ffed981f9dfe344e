/**
 * Review of Sentinel at its edges, for real (a primary, a replica, three sentinels from
 * redis-server): a failover in which the old primary stays up (SENTINEL FAILOVER: it is demoted
 * to a replica, as after a partition heals), so no socket closes on its own; and the sentinels
 * all restarted before a failover. Through it, every connection of a component must follow the
 * new primary: the worker's blocked wait (BLMOVE, idle when the switch came), its control
 * subscription (a stop sent after the switch), the client's event subscription made before it,
 * the monitor, and the CLI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Client, Monitor, RedisUnavailableError, Worker } from '../src/index.js';
import { freePort, until } from './helpers/redis-server.js';
import { nodeArgs, spawnServer, spawnSentinel, type ServerProcess } from './helpers/deployments.js';
import { runMain } from './helpers/cli.js';

const NAME = 'mymaster';
const servers: ServerProcess[] = [];
const dirs: string[] = [];
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(async () => {
  for (const s of servers) await s.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Deployment {
  dir: string;
  primary: ServerProcess;
  replica: ServerProcess;
  sentinels: ServerProcess[];
  sentinelPorts: number[];
}

function masterOf(flat: string[]): Record<string, string> {
  return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]!]] : [])));
}

async function sentinelsReady(ports: number[], slaves = 1): Promise<void> {
  for (const port of ports) {
    const c = new Redis({ port });
    await until(
      async () => {
        const m = masterOf((await c.call('SENTINEL', 'MASTER', NAME)) as string[]);
        return Number(m['num-other-sentinels']) === ports.length - 1 && Number(m['num-slaves']) === slaves;
      },
      `sentinel ${port} to know the others and the replica`,
      20_000,
      100,
    );
    c.disconnect();
  }
}

async function deploy(): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-sentinel-'));
  dirs.push(dir);
  const [p1, p2, ...sp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
  const primary = await spawnServer(nodeArgs(p1!, dir, ['--dbfilename', 'primary.rdb']), p1!);
  const replica = await spawnServer(nodeArgs(p2!, dir, ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(p1)]), p2!);
  servers.push(primary, replica);
  const sentinels: ServerProcess[] = [];
  for (const port of sp) sentinels.push(await spawnSentinel(dir, port!, NAME, p1!));
  servers.push(...sentinels);
  const admin = new Redis({ port: p2, lazyConnect: true });
  await until(async () => /master_link_status:up/.test(await admin.info('replication')), 'the replica in sync', 10_000, 50);
  admin.disconnect();
  await sentinelsReady(sp as number[]);
  return { dir, primary, replica, sentinels, sentinelPorts: sp as number[] };
}

/** SENTINEL FAILOVER, then wait until every sentinel names `to` as the primary */
async function switchTo(d: Deployment, to: number): Promise<void> {
  const s = new Redis({ port: d.sentinelPorts[0] });
  await s.call('SENTINEL', 'FAILOVER', NAME);
  for (const port of d.sentinelPorts) {
    const c = new Redis({ port });
    await until(async () => ((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as string[])[1] === String(to), `sentinel ${port} to name ${to}`, 20_000, 50);
    c.disconnect();
  }
  s.disconnect();
}

/**
 * A worker (one slot running a long task, the other idle in its blocked wait), a monitor and a
 * client subscribed to the events of a task not yet submitted; the switch; then a new task must
 * run and its events reach the old subscription, and a stop must reach the long task.
 */
async function runThrough(d: Deployment, prefix: string, theSwitch: () => Promise<number>, followsWithinMs?: number): Promise<void> {
  const redis = { sentinels: d.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: NAME, keyPrefix: prefix };
  const runs = new Map<string, number>();
  const w = new Worker({ port: 0, redis, concurrency: 2, heartbeatInterval: 200, fetchTaskInterval: 60_000 });
  w.addTaskFunction('long', async (t) => {
    runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, 60_000);
      t.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(new Error('stopped'));
      });
    });
  });
  w.addTaskFunction('quick', async (t) => {
    runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
    t.emit('progress', { half: true });
    return 'ran';
  });
  const m = new Monitor({ redis, taskTimeout: 3000, checkTaskInterval: 300 });
  const c = new Client({ redis });
  cleanup.push(() => c.close(), () => m.stop(), () => w.stop());
  await w.start();
  await m.start();

  const long = await c.submit('long', null, { id: 'long-1' });
  await until(async () => (await c.get(long))?.state === 'RUNNING', 'the long task running', 10_000);
  const seen: string[] = [];
  c.subscribe('quick-1', (e) => seen.push(e.event));
  // (the idle slot is blocked in its wait by now: fetchTaskInterval is a minute, so only the
  // blocked wait can take the next task)
  await new Promise((r) => setTimeout(r, 500));

  const to = await theSwitch();
  const switchedAt = Date.now();
  const now = new Redis({ sentinels: redis.sentinels, name: NAME });
  cleanup.push(async () => now.disconnect());
  expect((await now.info('server')).match(/tcp_port:(\d+)/)![1]).toBe(String(to));

  // the subscription made before the switch is made again on the new primary (an event
  // published before that would be gone: pub/sub keeps nothing)
  await until(async () => Number(((await now.pubsub('NUMSUB', `${prefix}task-quick-1-events`)) as [string, number])[1]) >= 1, 'the client subscribed on the new primary', 15_000);
  // a task submitted after the switch is taken by the idle slot's wait, on the new primary
  await c.submit('quick', null, { id: 'quick-1' });
  expect(await c.wait('quick-1', { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
  const tookQuick = Date.now() - switchedAt;
  // its events reached the subscription made before the switch
  await until(() => seen.includes('progress') && seen.includes('end'), 'the events of quick-1 on the old subscription', 5000);
  // a stop published on the new primary reaches the worker's control subscription
  await c.control(long, 'stop');
  expect(await c.wait(long, { timeout: 15_000 })).toMatchObject({ outcome: 'stopped' });
  expect(Object.fromEntries(runs)).toEqual({ 'long-1': 1, 'quick-1': 1 });
  // the CLI finds the new primary too
  const r = await runMain(['status', '--json', '--key-prefix', prefix, '--redis-sentinels', d.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','), '--redis-name', NAME]);
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toMatchObject({ queued: 0 });
  console.log(`${prefix} the task submitted after the switch ended ${tookQuick} ms after it`);
  if (followsWithinMs !== undefined) expect(tookQuick).toBeLessThan(followsWithinMs);
}

describe('Sentinel failovers the SIGKILL test does not cover', () => {
  it('SENTINEL FAILOVER (the old primary stays up, demoted): the idle wait, control, events and the CLI follow the new primary', async () => {
    const d = await deploy();
    await runThrough(d, 'manual:', async () => {
      await switchTo(d, d.replica.port);
      // the old primary is a replica now, still up
      const old = new Redis({ port: d.primary.port });
      // (the sentinels reconfigure it after the promotion; slow on a loaded machine)
      await until(async () => /role:slave/.test(await old.info('replication')), 'the old primary demoted', 40_000, 50);
      old.disconnect();
      return d.replica.port;
    });
  }, 90_000);

  it('the primary frozen (SIGSTOP: no socket closes), the replica promoted: every connection leaves it and follows', async () => {
    const d = await deploy();
    cleanup.push(async () => d.primary.proc.kill('SIGCONT'));
    await runThrough(d, 'frozen:', async () => {
      d.primary.proc.kill('SIGSTOP');
      for (const port of d.sentinelPorts) {
        const c = new Redis({ port });
        await until(async () => ((await c.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as string[])[1] === String(d.replica.port), `sentinel ${port} to name the replica`, 30_000, 50);
        c.disconnect();
      }
      return d.replica.port;
    });
  }, 90_000);

  it('the sentinels all restarted while the swarm runs, then SENTINEL FAILOVER: the connections still follow the switch', async () => {
    const d = await deploy();
    await runThrough(d, 'restarted:', async () => {
      for (const [i, s] of d.sentinels.entries()) {
        await s.kill('SIGKILL');
        // (same port and config file: a sentinel restarted in place)
        d.sentinels[i] = await spawnSentinel(d.dir, d.sentinelPorts[i]!, NAME, d.primary.port);
        servers.push(d.sentinels[i]!);
      }
      await sentinelsReady(d.sentinelPorts);
      await switchTo(d, d.replica.port);
      return d.replica.port;
      // the switch announced at once to every connection (their failover detectors had lost the
      // sentinels, and tried them again once a minute: 10 s here before the connections left
      // the demoted primary on their own)
    }, 6000);
  }, 90_000);
});

describe('sentinels that name no primary (all down, or the name misspelt)', () => {
  /** how `p` settles within `ms`: 'pending' if it does not */
  async function settles(p: Promise<unknown>, ms: number): Promise<{ error?: unknown; took: number } | 'pending'> {
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      p.then(
        () => ({ took: Date.now() - t0 }),
        (error: unknown) => ({ error, took: Date.now() - t0 }),
      ),
      new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms))),
    ]);
    clearTimeout(timer);
    return r;
  }

  it("a monitor's start() and a client's submit are refused in bounded time, naming the sentinels' error (both waited forever)", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-sentinel-'));
    dirs.push(dir);
    const [p1, sp, closed] = await Promise.all([freePort(), freePort(), freePort()]);
    const primary = await spawnServer(nodeArgs(p1!, dir), p1!);
    const sentinel = await spawnSentinel(dir, sp!, NAME, p1!);
    servers.push(primary, sentinel);
    const misspelt = { sentinels: [{ host: '127.0.0.1', port: sp! }], name: 'mymastr' };
    const down = { sentinels: [{ host: '127.0.0.1', port: closed! }], name: NAME };

    for (const [redis, cause] of [[misspelt, /No such master with that name/], [down, /All sentinels are unreachable/]] as const) {
      const m = new Monitor({ redis });
      cleanup.push(() => m.stop());
      const started = await settles(m.start(), 20_000);
      expect(started).not.toBe('pending');
      expect((started as { error: Error }).error).toBeInstanceOf(RedisUnavailableError);
      expect((started as { error: Error }).error.message).toMatch(cause);
      expect((started as { took: number }).took).toBeLessThan(8000);

    }
    // (a client is patient: about 20 reconnects, ~11 s, as with one Redis that is down)
    const client = new Client({ redis: misspelt });
    cleanup.push(() => client.close());
    const submitted = await settles(client.submit('x'), 30_000);
    expect(submitted).not.toBe('pending');
    expect((submitted as { error: Error }).error).toBeInstanceOf(RedisUnavailableError);
    expect((submitted as { error: Error }).error.message).toMatch(/redis\+sentinel:.*No such master with that name/);
    // the same sentinel with the right name: it all works
    const c = new Client({ redis: { ...misspelt, name: NAME } });
    cleanup.push(() => c.close());
    expect(await c.submit('x')).toBeTypeOf('string');
  }, 120_000);
});
