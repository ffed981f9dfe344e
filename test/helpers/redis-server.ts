/**
 * A private redis-server per test file, on a free port, in its own temp dir, that a test can
 * kill (SIGKILL), stop and restart (same port, with or without AOF). REDIS_URL points the tests
 * at another server instead (kill/restart tests then skip).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnRedis } from '../../tools/redis-process.js';

export { freePort };

export interface RedisServer {
  host: string;
  port: number;
  url: string;
  /** options for Worker/Monitor/Client `redis`, with a fresh keyPrefix so tests do not collide */
  options(extra?: Record<string, unknown>): { host: string; port: number; keyPrefix: string } & Record<string, unknown>;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: Redis freezes with every connection open (down for everyone, silently) */
  freeze(): void;
  /** SIGCONT */
  thaw(): void;
  start(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  /** a plain connection for assertions */
  client(): Redis;
  owned: boolean;
  /** its working directory (AOF files), when the test owns the server */
  dir?: string;
}

let prefixCounter = 0;

export async function startRedis(opts: { appendonly?: boolean; bind?: string[] } = {}): Promise<RedisServer> {
  const external = process.env.REDIS_URL;
  const clients: Redis[] = [];
  const mkClient = (host: string, port: number) => {
    const c = new Redis({ host, port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    c.on('error', () => {});
    clients.push(c);
    return c;
  };
  const base = (host: string, port: number) => ({
    host,
    port,
    url: `redis://${host}:${port}`,
    options: (extra: Record<string, unknown> = {}) => ({ host, port, keyPrefix: `t${process.pid}-${++prefixCounter}:`, ...extra }),
    client: () => mkClient(host, port),
  });
  if (external) {
    const u = new URL(external);
    const host = u.hostname;
    const port = Number(u.port || 6379);
    const unsupported = async () => {
      throw new Error('REDIS_URL is set: this test needs a private redis-server it can kill');
    };
    return {
      ...base(host, port),
      freeze: () => {
        throw new Error('REDIS_URL is set: this test needs a private redis-server');
      },
      thaw: () => {},
      kill: unsupported,
      start: unsupported,
      restart: unsupported,
      stop: async () => {
        for (const c of clients) c.disconnect();
      },
      owned: false,
    };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'task-swarm-redis-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = await spawnRedis({ port, dir, appendonly: opts.appendonly, bind: opts.bind });
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc;
    // exited already (by a signal too: a process killed by SIGKILL has a signalCode, no exitCode)
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill(signal);
    });
  };
  await start();
  return {
    ...base('127.0.0.1', port),
    dir,
    kill,
    freeze: () => proc?.kill('SIGSTOP'),
    thaw: () => proc?.kill('SIGCONT'),
    start,
    restart: async () => {
      await kill('SIGKILL');
      await start();
    },
    stop: async () => {
      for (const c of clients) c.disconnect();
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    owned: true,
  };
}

export async function until<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 10_000, stepMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
