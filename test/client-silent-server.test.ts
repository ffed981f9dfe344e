/**
 * A Client pointed at a server that accepts the connection and never answers (a listener that
 * never writes: a hung process, a wrong service holding the port), or answers the first command
 * of the handshake and then nothing: the connection never becomes ready, and no close comes to
 * say so. The first call fails after the client's patience with a RedisUnavailableError, and the
 * calls made after it, while the server is still silent, fail at once; once a real Redis listens
 * there, calls run again. (Before: each call waited its whole patience, five calls 30 to 42 s,
 * and said the connection was closed, or that the call may still run.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { Client, RedisUnavailableError } from '../src/index.js';
import { freePort, spawnRedis } from '../tools/redis-process.js';
import { timed } from './helpers/client-down.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** a listener on `port` that accepts and never answers; `firstReply`, written once to the first bytes of each connection, then silence */
async function silentListener(port: number, firstReply?: string): Promise<{ close(): Promise<void>; connections(): number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    if (firstReply !== undefined) s.once('data', () => s.write(firstReply));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  cleanup.push(close);
  return { close, connections: () => accepted };
}


async function realRedisOn(port: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'task-swarm-silent-'));
  cleanup.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const proc: ChildProcess = await spawnRedis({ port, dir });
  cleanup.push(async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((r) => {
      proc.once('exit', () => r());
      proc.kill('SIGKILL');
    });
  });
}

const cases: [string, string | undefined][] = [
  ['accepts and never writes', undefined],
  // (ioredis's first handshake call, CLIENT SETNAME, answered: its ready check, INFO, is not)
  ['answers the first bytes, then goes silent', '+OK\r\n'],
];

describe('a Client against a server that accepts and does not answer', () => {
  for (const [what, firstReply] of cases) {
    it(`${what}: the first call fails after the patience, the next ones at once; a real Redis there serves them again`, async () => {
      const port = await freePort();
      const listener = await silentListener(port, firstReply);
      const c = new Client({ redis: { host: '127.0.0.1', port, keyPrefix: `silent${process.pid}:` } });
      cleanup.push(() => c.close());

      const first = await timed(c.get('some-id'));
      expect(first.error).toBeInstanceOf(RedisUnavailableError);
      expect((first.error as Error).message).toContain(`127.0.0.1:${port}`);
      expect((first.error as Error).message).toMatch(/nothing was sent/);
      expect(first.ms).toBeGreaterThan(CLIENT_PATIENCE_MS - 500);
      expect(first.ms).toBeLessThan(CLIENT_PATIENCE_MS + 2000);
      expect(listener.connections()).toBeGreaterThan(0);

      // while it is still silent: every later call fails at once, saying what is wrong
      const calls: [string, () => Promise<unknown>][] = [
        ['get', () => c.get('some-id')],
        ['submit', () => c.submit('x', { n: 1 }, { id: 'refused-while-silent' })],
        ['stats', () => c.stats()],
        ['cancel', () => c.cancel('some-id')],
        ['get again', () => c.get('other-id')],
      ];
      for (const [name, call] of calls) {
        const r = await timed(call());
        expect(r.ms, name).toBeLessThan(1000);
        expect(r.error, name).toBeInstanceOf(RedisUnavailableError);
        expect((r.error as Error).message, name).toMatch(new RegExp(`cannot reach Redis at .*127\\.0\\.0\\.1:${port}: unreachable for \\d+\\.\\d s \\(connected, no answer to the handshake\\); nothing was sent`));
      }

      // a real Redis in its place: calls run again (the silent connection closed, ioredis connects anew)
      await listener.close();
      await realRedisOn(port);
      const t0 = performance.now();
      let id: string | undefined;
      while (id === undefined && performance.now() - t0 < 8000) {
        id = await c.submit('x', { n: 2 }).catch(() => new Promise<undefined>((r) => setTimeout(r, 100)));
      }
      expect(id).toBeTypeOf('string');
      expect(await c.get(id!)).toMatchObject({ id, state: 'QUEUED' });
      // the submit refused while the server was silent was never written
      expect(await c.get('refused-while-silent')).toBeNull();
    }, 60_000);
  }

  it('a real Redis in its place within the patience: the calls made meanwhile wait for it and run', async () => {
    const port = await freePort();
    const listener = await silentListener(port);
    const c = new Client({ redis: { host: '127.0.0.1', port, keyPrefix: `silent${process.pid}:` } });
    cleanup.push(() => c.close());
    const during = timed(c.submit('x', { n: 1 }, { id: 'made-while-silent' }));
    await new Promise((r) => setTimeout(r, 3000));
    const later = timed(c.get('made-while-silent'));
    await listener.close();
    await realRedisOn(port);
    const [a, b] = await Promise.all([during, later]);
    expect(a.error).toBeUndefined();
    expect(a.value).toBe('made-while-silent');
    expect(a.ms).toBeLessThan(CLIENT_PATIENCE_MS);
    // (read before or after the submit was written: either way it ran, and nothing failed)
    expect(b.error).toBeUndefined();
    expect(await c.get('made-while-silent')).toMatchObject({ id: 'made-while-silent', state: 'QUEUED' });
  }, 30_000);
});
