/**
 * A private redis-server per test file, on a free port, in its own temp dir, that a test can
 * kill (SIGKILL), stop and restart (same port, with or without AOF). REDIS_URL points the tests
 * at another server instead (kill/restart tests then skip).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

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
    proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', ['127.0.0.1', ...(opts.bind ?? [])].join(' '), '--protected-mode', 'no', '--save', '', '--appendonly', opts.appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--dir', dir],
      { stdio: 'ignore' },
    );
    const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    for (let i = 0; i < 200; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new Error(`redis-server did not start on port ${port}`);
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((r) => {
      p.once('exit', () => r());
      p.kill(signal);
    });
  };
  await start();
  return {
    ...base('127.0.0.1', port),
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
