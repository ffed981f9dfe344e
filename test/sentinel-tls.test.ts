/**
 * Redis Sentinel over TLS: a primary, a replica and three sentinels listening on TLS ports only
 * (certificates from a throwaway CA, replication over TLS too). A worker and a client that name
 * the sentinels and give `tls` (the CA) reach the sentinels and the primary they name over TLS;
 * after the primary's SIGKILL, the promoted replica, over TLS as well.
 */
import { clientConnection, sentinelsSay, waitExplained } from './helpers/wait-explained.js';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, RedisUnavailableError, Worker } from '../src/index.js';
import { freePort, until } from './helpers/redis-server.js';
import { makeCertificates, spawnSentinel, spawnServer, type ServerProcess } from './helpers/deployments.js';

const NAME = 'mymaster';
const servers: ServerProcess[] = [];
const cleanup: (() => Promise<unknown>)[] = [];
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-sentinel-tls-'));
afterAll(async () => {
  while (cleanup.length) await cleanup.pop()!();
  await Promise.all(servers.map((s) => s.kill()));
  rmSync(dir, { recursive: true, force: true });
});
/** a logger that keeps what the worker says (info and up), timed, for a failure message */
function keeping(lines: string[]) {
  const started = Date.now();
  const keep =
    (level: string) =>
    (...a: unknown[]) =>
      void lines.push(`+${Date.now() - started} ms ${level} ${a.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(' ')}`);
  return { debug() {}, info: keep('info'), warn: keep('warn'), error: keep('error') };
}

describe('Redis Sentinel over TLS', () => {
  it('runs tasks through sentinels and a primary on TLS ports only, and after a failover to the replica', async () => {
    const certs = makeCertificates(dir);
    const tlsLines = [`tls-cert-file ${certs.serverCert}`, `tls-key-file ${certs.serverKey}`, `tls-ca-cert-file ${certs.ca}`, 'tls-auth-clients no', 'tls-replication yes'];
    const tlsArgs = tlsLines.flatMap((l) => {
      const [k, v] = l.split(' ');
      return [`--${k}`, v!];
    });
    const probe = { tls: { ca: readFileSync(certs.ca, 'utf8'), servername: 'localhost' } };
    const [p1, p2, ...sp] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const node = (port: number, extra: string[]) => ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir, ...tlsArgs, ...extra];
    const primary = await spawnServer(node(p1!, ['--dbfilename', 'p.rdb']), p1!, probe);
    servers.push(primary);
    servers.push(await spawnServer(node(p2!, ['--dbfilename', 'r.rdb', '--replicaof', '127.0.0.1', String(p1)]), p2!, probe));
    for (const port of sp) servers.push(await spawnSentinel(dir, port!, NAME, p1!, 5000, { lines: tlsLines, probe }));

    const redis = { sentinels: sp.map((port) => ({ host: '127.0.0.1', port: port! })), name: NAME, tls: { ca: certs.ca, servername: 'localhost' } };
    const ran: string[] = [];
    const logs: string[] = [];
    const w = new Worker({ port: 0, redis, logger: keeping(logs) });
    w.addTaskFunction('f', (t) => {
      ran.push(t.id);
      return t.data;
    });
    const c = new Client({ redis });
    cleanup.push(
      () => w.stop(),
      () => c.close(),
    );
    await w.start();
    expect(await c.wait(await c.submit('f', 'before'), { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'before' });

    // the replica in sync, then the primary gone: the sentinels promote it, everyone follows over TLS
    const replica = new Redis({ port: p2, ...probe });
    replica.on('error', () => {});
    cleanup.push(async () => replica.disconnect());
    await until(async () => /master_link_status:up/.test(await replica.info('replication')), 'the replica in sync over TLS', 10_000);
    // the client's connection from the kill on, for a failure message
    const conn = (c as unknown as { redis: Redis }).redis;
    const killed = Date.now();
    const events: string[] = [];
    const at = (what: string) => events.push(`+${Date.now() - killed} ms ${what}`);
    for (const ev of ['close', 'reconnecting', 'connect', 'ready', 'end']) conn.on(ev, () => at(ev));
    conn.on('error', (e: Error) => at(`error ${e.message.trim()}`));
    await primary.kill('SIGKILL');
    // once the replica is promoted (on a loaded machine the sentinels take longer than a client's
    // submit waits for a primary: a submit sent meanwhile may be refused, which is not this test's)
    await until(async () => /role:master/.test(await replica.info('replication')), 'the replica promoted', 30_000, 100);
    at('the replica says role:master');
    // (the client refuses at once while its connection has been down over 10 s, saying nothing
    // was sent: on a loaded machine the promotion can take that long, so it is asked again)
    let refused: Error | undefined;
    const id = await until(
      () =>
        c.submit('f', 'after').catch((e: Error) => {
          if (e instanceof RedisUnavailableError && /nothing was sent/.test(e.message)) return void (refused = e);
          throw e;
        }),
      'a submit accepted after the promotion',
      30_000,
      200,
    ).catch(async (e: Error) => {
      // what the sentinels say the primary is, and where the client's connection is
      const said = await sentinelsSay(sp as number[], NAME, probe);
      throw new Error(
        `${e.message}\nlast refusal: ${refused?.message ?? 'none'}\n${clientConnection(c)}\nthe sentinels (the primary was ${p1}, the replica ${p2}):\n${said}\nthe client's connection since the primary's SIGKILL:\n${events.slice(-80).join('\n')}`,
        { cause: e },
      );
    });
    // (45 s, and what it saw if not, the worker's logs: under a full CI run this wait has passed
    // 20 s; a worker's connection ended by a switch announced while it asked the sentinels left
    // the task queued for good: test/sentinel-switch-mid-connect.test.ts)
    expect(await waitExplained(c, id, 45_000, logs)).toMatchObject({ outcome: 'succeeded', result: 'after' });
    expect(ran).toContain(id);
  }, 120_000);
});
