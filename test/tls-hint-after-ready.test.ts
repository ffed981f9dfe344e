/**
 * rediss:// to a Redis without TLS is silence, and the library's RedisUnavailableError ends with
 * a hint saying so (TLS was asked for ... write redis://). A TLS Redis this client has talked to
 * is no such server: gone silent later (frozen, overloaded, a network that drops its packets),
 * its silence was told with that hint all the same, sending its user to write redis:// to a
 * server that speaks only TLS. The hint is for a connection that never came up.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, RedisUnavailableError } from '../src/index.js';
import { freePort } from './helpers/redis-server.js';
import { startProxy, type TcpProxy } from './helpers/tcp-proxy.js';
import { makeCertificates, spawnServer, type Certificates, type ServerProcess } from './helpers/deployments.js';

let dir: string;
let certs: Certificates;
let server: ServerProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-tls-hint-'));
  certs = makeCertificates(dir);
  const port = await freePort();
  server = await spawnServer(
    [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'yes',
    ],
    port,
    { tls: { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) } },
  );
});
afterAll(async () => {
  await server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('a TLS Redis that answered, then went silent', () => {
  it("a client's calls are refused without the hint that the server has no TLS", async () => {
    const proxy: TcpProxy = await startProxy('127.0.0.1', server.port);
    const c = new Client({ redis: { url: `rediss://127.0.0.1:${proxy.port}`, keyPrefix: 'hint:', tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } } });
    try {
      const id = await c.submit('nobody-serves-this', 1);
      expect(await c.get(id)).toMatchObject({ state: 'QUEUED' });
      // its connection dropped, and the new ones silent: the server's host overloaded, or a
      // network that drops its packets
      proxy.reset();
      proxy.partition();
      const seen: string[] = [];
      // (its patience, ~10 s, then calls made later, once ioredis's connect timeout has said
      // ETIMEDOUT for a connection tried again)
      const t0 = Date.now();
      while (Date.now() - t0 < 13_000) {
        const err = await c.submit('nobody-serves-this', 2).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RedisUnavailableError);
        seen.push((err as Error).message);
        await new Promise((r) => setTimeout(r, 1000));
      }
      expect(seen.length).toBeGreaterThan(1);
      expect(seen.at(-1)).toMatch(/^cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+\/?: unreachable for [\d.]+ s \((connect ETIMEDOUT|connecting, no answer yet)\); nothing was sent$/);
      for (const m of seen) expect(m).not.toContain('TLS was asked for');
    } finally {
      await c.close();
      await proxy.close();
    }
  }, 60_000);
});
