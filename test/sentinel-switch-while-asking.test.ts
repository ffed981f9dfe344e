/**
 * A switch announced while a Sentinel client is asking the sentinels where the primary is. The
 * primary is SIGKILLed; the client reconnects, asking the sentinel it asks first, which is
 * stopped (SIGSTOP: on a loaded machine, one slow to answer), so the asking lasts. Meanwhile the
 * other two promote the replica and announce it (+switch-master). ioredis's failover detector,
 * still subscribed from the connection to the old primary, hears that and closes the connector,
 * which made the connect then in progress fail ("Connection is closed."): ioredis ended the
 * connection for good (status 'end'), and every call of the client was refused from then on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { freePort, until } from './helpers/redis-server.js';
import { nodeArgs, spawnSentinel, spawnServer, type ServerProcess } from './helpers/deployments.js';

const NAME = 'mymaster';
const servers: ServerProcess[] = [];
const cleanup: (() => Promise<unknown>)[] = [];
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-sentinel-asking-'));
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
  for (const s of servers) {
    s.proc.kill('SIGCONT');
    await s.kill('SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('a switch announced while the client asks the sentinels', () => {
  it('leaves the client reconnecting, and it reaches the promoted replica', async () => {
    const [p1, p2, ...sp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const primary = await spawnServer(nodeArgs(p1!, dir, ['--dbfilename', 'p.rdb']), p1!);
    servers.push(primary);
    const replica = await spawnServer(nodeArgs(p2!, dir, ['--dbfilename', 'r.rdb', '--replicaof', '127.0.0.1', String(p1)]), p2!);
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
