/**
 * A Sentinel switch announced at an unlucky moment of a connection's making.
 *
 * While the client asks the sentinels where the primary is: the primary is SIGKILLed; the client
 * reconnects, asking the sentinel it asks first, which is stopped (SIGSTOP: on a loaded machine,
 * one slow to answer), so the asking lasts. Meanwhile the other two promote the replica and
 * announce it (+switch-master). ioredis's failover detector, still subscribed from the connection
 * to the old primary, hears that and closes the connector, which made the connect then in
 * progress fail ("Connection is closed."): ioredis ended the connection for good (status 'end'),
 * and every call of the client was refused from then on.
 *
 * After the connection was told where the primary is, before its failover detector listens.
 * ioredis asks a sentinel, connects to the address named, and only then subscribes to
 * +switch-master; on a loaded machine that takes a while, and a failover can end in it. Here the
 * primary is frozen (SIGSTOP: its socket accepts, nothing answers), the connection is made to it,
 * and its detector is held until every sentinel names the promoted replica: no announcement
 * reaches it. It waited in its handshake for good (a worker's subscriber connection so made
 * claimed nothing more); now the sentinel that named the primary is asked again once the
 * detector listens, and the connection follows the switch.
 *
 * And the detector's connections to a sentinel that is down print nothing on the console (ioredis
 * gives them no error listener: "Unhandled error event" at every try).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { resolveRedisConfig } from '../src/config.js';
import { connect } from '../src/redis.js';
import { Client, Worker } from '../src/index.js';
import { freePort, until } from './helpers/redis-server.js';
import { nodeArgs, spawnSentinel, spawnServer, type ServerProcess } from './helpers/deployments.js';

const NAME = 'mymaster';
const servers: ServerProcess[] = [];
const cleanup: (() => Promise<unknown>)[] = [];
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-sentinel-switch-'));
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
  for (const s of servers) {
    s.proc.kill('SIGCONT');
    await s.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

function masterOf(flat: string[]): Record<string, string> {
  return Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]!]] : [])));
}

interface Deployment {
  primary: ServerProcess;
  replica: ServerProcess;
  sentinels: ServerProcess[];
  sentinelPorts: number[];
  /** 'primary' or 'replica' when every sentinel names it, else 'mixed' */
  named(): Promise<'primary' | 'replica' | 'mixed'>;
}

async function deploy(): Promise<Deployment> {
  const [p1, p2, ...sp] = (await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()])) as number[];
  const primary = await spawnServer(nodeArgs(p1!, dir, ['--dbfilename', `p-${p1}.rdb`]), p1!);
  servers.push(primary);
  const replica = await spawnServer(nodeArgs(p2!, dir, ['--dbfilename', `r-${p2}.rdb`, '--replicaof', '127.0.0.1', String(p1)]), p2!);
  servers.push(replica);
  const sentinels: ServerProcess[] = [];
  for (const port of sp) sentinels.push(await spawnSentinel(dir, port, NAME, p1!));
  servers.push(...sentinels);
  const r = admin(p2!);
  await until(async () => /master_link_status:up/.test(await r.info('replication')), 'the replica in sync', 10_000, 50);
  const asked = sp.map((port) => admin(port));
  for (const [i, a] of asked.entries()) {
    await until(
      async () => {
        const m = masterOf((await a.call('SENTINEL', 'MASTER', NAME)) as string[]);
        return Number(m['num-other-sentinels']) === 2 && Number(m['num-slaves']) === 1;
      },
      `sentinel ${sp[i]} to know the others and the replica`,
      20_000,
      100,
    );
  }
  const named = async () => {
    const answers = await Promise.all(asked.map(async (a) => ((await a.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', NAME)) as string[])[1]));
    return answers.every((p) => p === String(p2)) ? 'replica' : answers.every((p) => p === String(p1)) ? 'primary' : 'mixed';
  };
  return { primary, replica, sentinels, sentinelPorts: sp, named };
}

function admin(port: number): Redis {
  const r = new Redis({ port, lazyConnect: true });
  r.on('error', () => {});
  cleanup.push(async () => r.disconnect());
  return r;
}

/** `conn`'s failover detector subscribes only once `release` resolves (a loaded machine, slow to make it) */
function holdDetector(conn: Redis, release: Promise<unknown>): void {
  const k = (conn as unknown as { connector: { initFailoverDetector(): Promise<void> } }).connector;
  const init = k.initFailoverDetector.bind(k);
  k.initFailoverDetector = async () => {
    await release;
    return init();
  };
}

describe('a switch announced before the failover detector listens', () => {
  it('the connection made to the frozen primary meanwhile follows the promoted replica', async () => {
    const d = await deploy();
    const p1 = d.primary.port;
    const p2 = d.replica.port;
    d.primary.proc.kill('SIGSTOP');
    const conn = connect(resolveRedisConfig({ sentinels: d.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: NAME }), 'command', 'late-detector') as Redis;
    conn.on('error', () => {});
    cleanup.push(async () => conn.disconnect());
    // its detector subscribes only once every sentinel names the replica: it hears no announcement
    let released!: () => void;
    holdDetector(conn, new Promise<void>((res) => (released = res)));
    expect(await d.named()).toBe('primary');
    void conn.connect().catch(() => {});
    // connected to the frozen primary, its handshake unanswered
    await until(() => conn.status === 'connect' && conn.stream.remotePort === p1, 'the connection made to the frozen primary', 5000, 10);

    await until(async () => (await d.named()) === 'replica', 'every sentinel to name the replica', 30_000, 50);
    released();
    // (before, it stayed in its handshake on the frozen primary: status 'connect' for good)
    await until(() => conn.status === 'ready' && conn.stream.remotePort === p2, 'the connection ready on the promoted replica', 10_000, 50);
    expect(await conn.ping()).toBe('PONG');
  }, 90_000);

  it('a worker whose subscriber connection is made again so runs the tasks submitted after the switch', async () => {
    const d = await deploy();
    const redis = { sentinels: d.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: NAME, keyPrefix: 'late:' };
    const w = new Worker({ port: 0, redis, heartbeatInterval: 200, fetchTaskInterval: 60_000 });
    w.addTaskFunction('quick', async () => 'ran');
    const c = new Client({ redis });
    cleanup.push(() => w.stop(), () => c.close());
    await w.start();
    expect(await c.wait(await c.submit('quick'), { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });

    d.primary.proc.kill('SIGSTOP');
    // its subscriber connection made again while the sentinels still name the frozen primary (the
    // silence watch makes it again about 3 s into a freeze, as a failover ends), and its detector
    // slow to listen: it subscribes once every sentinel names the replica
    const sub = (w as unknown as { sub: Redis }).sub;
    const switched = until(async () => (await d.named()) === 'replica', 'every sentinel to name the replica', 30_000, 50);
    holdDetector(sub, switched);
    expect(await d.named()).toBe('primary');
    sub.disconnect(true);
    await switched;
    // made to the frozen primary before the switch, its handshake unanswered
    expect([sub.status, sub.stream.remotePort]).toEqual(['connect', d.primary.port]);

    // (before: the subscriber waited on the frozen primary for good, and the worker claimed nothing)
    const id = await c.submit('quick');
    expect(await c.wait(id, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded', result: 'ran' });
  }, 90_000);

  it('a sentinel down as a connection is made: its failover detector\'s tries to reach it print nothing on the console', async () => {
    const d = await deploy();
    await d.sentinels[2]!.kill('SIGKILL');
    const printed = vi.spyOn(console, 'error');
    try {
      const conn = connect(resolveRedisConfig({ sentinels: d.sentinelPorts.map((port) => ({ host: '127.0.0.1', port })), name: NAME }), 'command', 'one-sentinel-down') as Redis;
      conn.on('error', () => {});
      cleanup.push(async () => conn.disconnect());
      expect(await conn.ping()).toBe('PONG');
      // (the detector's connection to the dead sentinel refused, and tried again: 100, 200, 300 ms)
      await new Promise((r) => setTimeout(r, 1000));
      // (before: "[ioredis] Unhandled error event: Error: connect ECONNREFUSED", at every try)
      expect(printed.mock.calls.map((c) => c.join(' ')).filter((l) => /Unhandled error event/.test(l))).toEqual([]);
    } finally {
      printed.mockRestore();
    }
  }, 90_000);
});

describe('a switch announced while the client asks the sentinels', () => {
  it('leaves the client reconnecting, and it reaches the promoted replica', async () => {
    const [p1, p2, ...sp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const primary = await spawnServer(nodeArgs(p1!, dir, ['--dbfilename', `pa-${p1}.rdb`]), p1!);
    servers.push(primary);
    const replica = await spawnServer(nodeArgs(p2!, dir, ['--dbfilename', `ra-${p2}.rdb`, '--replicaof', '127.0.0.1', String(p1)]), p2!);
    servers.push(replica);
    const sentinels: ServerProcess[] = [];
    for (const port of sp) sentinels.push(await spawnSentinel(dir, port!, NAME, p1!, 5000));
    servers.push(...sentinels);
    const admin = (port: number) => {
      const r = new Redis({ port, lazyConnect: true });
      r.on('error', () => {});
      cleanup.push(async () => r.disconnect());
      return r;
    };
    const r = admin(p2!);
    await until(async () => /master_link_status:up/.test(await r.info('replication')), 'the replica in sync', 10_000, 50);
    // (a failover needs two sentinels that know each other and the replica)
    for (const s of sentinels.slice(1)) {
      const a = admin(s.port);
      await until(
        async () => {
          const flat = (await a.call('SENTINEL', 'MASTER', NAME)) as string[];
          const m = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
          return Number(m['num-other-sentinels']) === 2 && Number(m['num-slaves']) === 1;
        },
        `sentinel ${s.port} to know the others and the replica`,
        15_000,
        100,
      );
    }

    const c = new Client({ redis: { sentinels: sp.map((port) => ({ host: '127.0.0.1', port: port! })), name: NAME } });
    cleanup.push(() => c.close());
    await c.submit('f', 'before');
    const conn = (c as unknown as { redis: Redis }).redis;

    // the switch as announced, heard here too
    const announced = admin(sp[1]!);
    let switched = false;
    announced.on('message', () => (switched = true));
    await announced.subscribe('+switch-master');

    // the sentinel the client asks first (the one that named the primary) stops answering, the primary dies
    sentinels[0]!.proc.kill('SIGSTOP');
    await primary.kill('SIGKILL');
    await until(async () => switched, 'the switch announced', 20_000, 50);
    // the client still asking the stopped sentinel when the switch was announced
    expect(conn.status).toBe('connecting');
    await new Promise((res) => setTimeout(res, 200));
    sentinels[0]!.proc.kill('SIGCONT');

    // reconnected to the promoted replica: a submit written there
    await until(
      async () => conn.status === 'ready' || (conn.status === 'end' ? Promise.reject(new Error('the client gave up its connection (status end)')) : false),
      'the client ready again',
      15_000,
      50,
    );
    const id = await c.submit('f', 'after');
    expect(await c.get(id)).toMatchObject({ id, state: 'QUEUED' });
    expect(conn.stream.remotePort).toBe(p2);
  }, 60_000);
});
