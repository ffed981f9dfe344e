/**
 * A private redis-server process on a free port, for the tests, the benchmark and the demo
 * (never the shared server on 6379): spawned, and waited for until it answers PING. Each user
 * adds what it needs on top (kill and restart, admin connections, messages).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
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

export interface RedisProcessOptions {
  port: number;
  /** working directory (AOF files go there) */
  dir: string;
  appendonly?: boolean;
  /** addresses to listen on besides 127.0.0.1 */
  bind?: string[];
  /** its own process group, so a Ctrl-C in the terminal does not reach it */
  detached?: boolean;
  /** a password clients must give (AUTH); passed in the config on stdin, not in argv */
  requirepass?: string;
  /** more of redis-server's options, e.g. ['--databases', '2'] */
  args?: string[];
}

/** Spawn redis-server and resolve once it answers; rejects naming the port if it exits or stays silent. */
export async function spawnRedis(o: RedisProcessOptions, timeoutMs = 5000): Promise<ChildProcess> {
  if (o.port === 6379) throw new Error('refusing to use port 6379 (the shared Redis)');
  const args = ['--port', String(o.port), '--bind', ['127.0.0.1', ...(o.bind ?? [])].join(' '), '--protected-mode', 'no'];
  args.push('--save', '', '--appendonly', o.appendonly ? 'yes' : 'no', '--appendfsync', 'always', '--dir', o.dir, ...(o.args ?? []));
  // With a password, the config comes on stdin ("-"), so the password is not in redis's argv.
  if (o.requirepass !== undefined) args.unshift('-');
  const proc = spawn('redis-server', args, { stdio: [o.requirepass === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: o.detached ?? false });
  if (o.requirepass !== undefined) proc.stdin!.end(`requirepass ${JSON.stringify(o.requirepass)}\n`);
  let output = '';
  proc.stdout!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
  proc.stderr!.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-2000)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`redis-server exited at once on port ${o.port}: ${output.trim().split('\n').at(-1) ?? ''}`);
    }
    const probe = new Redis({ host: '127.0.0.1', port: o.port, password: o.requirepass, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      return proc;
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server did not answer on port ${o.port} within ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      probe.disconnect();
    }
  }
}
