/**
 * The CLI as a real process whose reader goes away early (`task-swarm status | head -1`,
 * `limits | true`): it ends quietly, status 0 and nothing on stderr, as `git log | head` does,
 * not with Node's EPIPE stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { CLI } from './helpers/cli.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let prefixes = 0;
beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

const nextPrefix = () => `pipe${process.pid}-${++prefixes}:`;

/**
 * The CLI with the reading end of `closed` (its stdout or stderr) shut before it writes a line;
 * `whileRunning` runs once it has started, given what the other stream has said so far. Resolves
 * with its status and the other stream's text.
 */
function runWithClosed(
  closed: 'stdout' | 'stderr',
  argv: string[],
  whileRunning: (other: () => string) => Promise<void> = async () => {},
): Promise<{ code: number | null; signal: string | null; other: string }> {
  const env: Record<string, string | undefined> = { ...process.env, REDIS_URL: server.url };
  delete env.TASK_SWARM_DEBUG;
  const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...argv], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const open = closed === 'stdout' ? child.stderr : child.stdout;
  child[closed].destroy();
  let other = '';
  open.on('data', (b: Buffer) => (other += b.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  void whileRunning(() => other).catch(() => {});
  return new Promise((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, other });
    }),
  );
}

describe('a reader that closes early', () => {
  it('`status | head -1`: exit 0, nothing on stderr', async () => {
    const r = await runWithClosed('stdout', ['status', '--key-prefix', nextPrefix()]);
    expect(r).toEqual({ code: 0, signal: null, other: '' });
  });

  it('`limits | true`: exit 0, nothing on stderr', async () => {
    const prefix = nextPrefix();
    // a limit, so that there is a line to write
    const client = new Client({ redis: { ...server.options(), keyPrefix: prefix } });
    await client.setLimit({ function: 'f' }, { concurrency: 2 });
    await client.close();
    const r = await runWithClosed('stdout', ['limits', '--key-prefix', prefix]);
    expect(r).toEqual({ code: 0, signal: null, other: '' });
  });

  it('`events <id> | head -1`: the next event ends it, exit 0, only its own line on stderr', { timeout: 60_000 }, async () => {
    const prefix = nextPrefix();
    await redis.hset(`${prefix}task-e1`, 'state', 'RUNNING', 'function', 'f');
    const channel = `${prefix}task-e1-events`;
    // (a loaded machine can take seconds to start the CLI: the waits are long, the test ends at the event)
    const r = await runWithClosed('stdout', ['events', 'e1', '--timeout', '45000', '--key-prefix', prefix], async (said) => {
      await until(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] > 0, 'events subscribed', 40_000);
      // (subscribed before it has read the task and said what it follows: an event then would
      // end it before that line)
      await until(() => said().includes('following task'), 'events to say what it follows', 40_000);
      await redis.publish(channel, '{"event":"progress","data":1,"at":0}');
    });
    expect(r.code).toBe(0);
    expect(r.other).toBe('following task e1 (RUNNING); Ctrl-C to stop\n');
  });

  it('stderr closed (`2>&1 | head`-like): `wait` ends quietly at its first line there', { timeout: 60_000 }, async () => {
    const prefix = nextPrefix();
    await redis.hset(`${prefix}task-w1`, 'state', 'RUNNING', 'function', 'f');
    const channel = `${prefix}task-w1-events`;
    const r = await runWithClosed('stderr', ['wait', 'w1', '--timeout', '45000', '--key-prefix', prefix], async () => {
      await until(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] > 0, 'wait subscribed', 40_000);
      await redis.publish(channel, '{"event":"step","data":1,"at":0}');
    });
    expect(r).toEqual({ code: 0, signal: null, other: '' });
  });

  it('a worker whose log reader goes away (`worker | tee log`, tee gone) stops gracefully, not at once: it leaves the swarm, status 0', { timeout: 60_000 }, async () => {
    const prefix = nextPrefix();
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-pipes-'));
    const file = join(dir, 'tasks.mjs');
    writeFileSync(file, 'export function noop() { return 1; }\n');
    try {
      // its first log line (started on ...) meets the closed pipe
      const r = await runWithClosed('stdout', ['worker', '--functions', file, '--port', '0', '--key-prefix', prefix, '--log', 'info']);
      expect(r.code, r.other).toBe(0);
      expect(r.other).toMatch(/the reader of its output went away: stopping the worker/);
      expect(r.other).not.toMatch(/EPIPE|^\s+at /m);
      // deregistered by its stop, not left for the monitors to prune
      expect(await redis.smembers(`${prefix}workers`)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
