/**
 * TLS for real: a throwaway CA, server and client certificates made with openssl, a redis-server
 * that speaks only TLS and asks every client for a certificate (`tls-auth-clients yes`). A worker,
 * a monitor and a client with the CA and the client certificate run a task to its end; one
 * without the certificate, or without the CA, is refused at start-up with one clear error, soon.
 * And rediss:// to a Redis without TLS: the library's errors say TLS may be why, as the CLI's do.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, RedisUnavailableError, Worker } from '../src/index.js';
import { freePort, startRedis } from './helpers/redis-server.js';
import { makeCertificates, spawnServer, type Certificates, type ServerProcess } from './helpers/deployments.js';
import { runMain } from './helpers/cli.js';

let dir: string;
let certs: Certificates;
let server: ServerProcess;
let url: string;
const cleanup: (() => Promise<unknown>)[] = [];
let prefix = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-tls-'));
  certs = makeCertificates(dir);
  const port = await freePort();
  url = `rediss://127.0.0.1:${port}`;
  server = await spawnServer(
    [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'yes',
    ],
    port,
    { tls: { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } },
  );
});
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(async () => {
  await server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

const withCert = () => ({ url, keyPrefix: `tls${++prefix}:`, tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });

describe('over TLS with a client certificate', () => {
  it('a worker, a monitor and a client (certificate files by path) run a task to its end', async () => {
    const redis = withCert();
    const w = new Worker({ port: 0, redis, heartbeatInterval: 200 });
    w.addTaskFunction('double', async (task) => (task.data as number) * 2);
    const m = new Monitor({ redis, taskTimeout: 2000, checkTaskInterval: 500 });
    const c = new Client({ redis });
    cleanup.push(() => w.stop(), () => m.stop(), () => c.close());
    await w.start();
    await m.start();
    const id = await c.submit('double', 21);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: 42 });
  });

  it('a client given the PEM text itself reads the task back', async () => {
    const redis = { ...withCert(), tls: { ca: readFileSync(certs.ca, 'utf8'), cert: readFileSync(certs.clientCert, 'utf8'), key: readFileSync(certs.clientKey, 'utf8') } };
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    const id = await c.submit('nobody-serves-this', { a: 1 });
    expect(await c.get(id)).toMatchObject({ id, state: 'QUEUED' });
  });

  it('the CLI with --redis-tls-ca/-cert/-key', async () => {
    const r = await runMain(['status', '--json', '--redis-url', url, '--redis-tls-ca', certs.ca, '--redis-tls-cert', certs.clientCert, '--redis-tls-key', certs.clientKey]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('queued');
  });
});

describe('refused, soon and clearly', () => {
  it('a worker and a monitor without the client certificate: start() rejects with a RedisUnavailableError', async () => {
    const redis = { url, keyPrefix: 'nocert:', tls: { ca: certs.ca } };
    for (const [what, start] of [
      ['worker', () => new Worker({ port: 0, redis }).start()],
      ['monitor', () => new Monitor({ redis }).start()],
    ] as const) {
      const t0 = Date.now();
      const err = await start().catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message, what).toMatch(new RegExp(`^cannot reach Redis at rediss://127\\.0\\.0\\.1:${server.port}/?: `));
      expect((err as Error).message, what).toContain('give a client certificate and its key');
      expect(Date.now() - t0, what).toBeLessThan(10_000);
    }
  });

  it('a worker that does not trust the server certificate (no CA): rejected, naming the certificate problem', async () => {
    const err = await new Worker({ port: 0, redis: { url, tls: { cert: certs.clientCert, key: certs.clientKey } } }).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/certificate/i);
  });

  it('a client without the client certificate: its call rejects, it does not hang', async () => {
    const c = new Client({ redis: { url, tls: { ca: certs.ca } } });
    cleanup.push(() => c.close());
    const t0 = Date.now();
    const err = await c.submit('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 40_000);

  it('the CLI without the client certificate: exit 1, one line naming the server', async () => {
    const r = await runMain(['status', '--redis-url', url, '--redis-tls-ca', certs.ca]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^task-swarm: cannot reach Redis at rediss://127\\.0\\.0\\.1:${server.port}`));
    expect(r.stderr).toContain('give a client certificate and its key');
  });
});

describe('rediss:// to a Redis without TLS (it reads the handshake as a command and waits: silence)', () => {
  it("a client's call and a worker's start: their RedisUnavailableError says TLS was asked for, and to write redis://", async () => {
    const plain = await startRedis();
    cleanup.push(() => plain.stop());
    const redis = { url: plain.url.replace(/^redis:/, 'rediss:'), keyPrefix: `plain${++prefix}:` };
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    const w = new Worker({ port: 0, redis });
    cleanup.push(() => w.stop());
    // (side by side: each waits its patience, ~10 s)
    const [submitted, started] = await Promise.all([c.submit('x').catch((e: unknown) => e), w.start().catch((e: unknown) => e)]);
    for (const [what, err] of [
      ['client', submitted],
      ['worker', started],
    ] as const) {
      expect(err, what).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message, what).toMatch(new RegExp(`^cannot reach Redis at rediss://127\\.0\\.0\\.1:${plain.port}/?: `));
      expect((err as Error).message, what).toMatch(/\(TLS was asked for: .*write redis:\/\/\)$/);
    }
    // (a later call, once the connection attempt has timed out (ETIMEDOUT), says it too)
    await new Promise((r) => setTimeout(r, 1000));
    const later = await c.submit('x').catch((e: unknown) => e);
    expect(later).toBeInstanceOf(RedisUnavailableError);
    expect((later as Error).message).toMatch(/\(TLS was asked for: .*write redis:\/\/\)$/);
  }, 60_000);

  it('TLS asked for by the `tls` option (host and port, Sentinel, Cluster): the hint says to give no tls, not to write the redis:// they never wrote', async () => {
    const plain = await startRedis();
    cleanup.push(() => plain.stop());
    const at = { host: '127.0.0.1', port: plain.port };
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const forms: [string, Record<string, unknown>, RegExp][] = [
      ['host and port', { ...at, tls: {} }, /\(TLS was asked for: a server without TLS on that port leaves the handshake unanswered; if it has none, give no tls \(on the command line, no --redis-tls-\* flag\)\)$/],
      ['sentinels', { sentinels: [at], name: 'mymaster', tls: {} }, /\(TLS was asked for: a server without TLS leaves the handshake unanswered; if it has none, give no tls \(on the command line, no --redis-tls-\* flag\)\)$/],
      ['cluster', { cluster: [at], keyPrefix: '{tls}:', tls: {} }, /\(TLS was asked for: a server without TLS leaves the handshake unanswered; if it has none, give no tls \(on the command line, no --redis-tls-\* flag\)\)$/],
      // (rediss:// beside `tls`: redis:// alone with it is a ConfigError)
      ['rediss:// with tls', { url: plain.url.replace(/^redis:/, 'rediss:'), tls: { servername: 'localhost' } }, /\(TLS was asked for: .*if it has none, write redis:\/\/, with no tls \(on the command line, no --redis-tls-\* flag\)\)$/],
    ];
    const c = new Client({ redis: { ...at, tls: {}, keyPrefix: `plain${++prefix}:` } });
    cleanup.push(() => c.close());
    const [submitted, ...started] = await Promise.all([
      c.submit('x').catch((e: unknown) => e),
      ...forms.map(([, redis]) => {
        const w = new Worker({ port: 0, redis: { keyPrefix: `plain${++prefix}:`, ...redis }, logger: quiet });
        cleanup.push(() => w.stop());
        return w.start().catch((e: unknown) => e);
      }),
    ]);
    expect(submitted).toBeInstanceOf(RedisUnavailableError);
    expect((submitted as Error).message).toMatch(forms[0]![2]);
    for (const [i, [what, , hint]] of forms.entries()) {
      expect(started[i], what).toBeInstanceOf(RedisUnavailableError);
      expect((started[i] as Error).message, what).toMatch(hint);
      expect((started[i] as Error).message, what).not.toMatch(/write redis:\/\/\)$/);
    }
  }, 60_000);
});
