/**
 * `task-swarm worker` whose task function leaves a promise rejected with no handler (a
 * fire-and-forget call that fails: `Promise.reject(...)`, `db.write(x)` not awaited) or throws
 * from a timer: Node's default ends the whole process, with a stack trace, so every other task
 * running on it is left RUNNING in Redis with no worker (until a monitor, if there is one, takes
 * it back after taskTimeout), and the worker never deregisters. One task's mistake must be one
 * line in the worker's log, the process going on with the others.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { CLI } from './helpers/cli.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-floating-'));
const MODULE = join(dir, 'functions.mjs');

beforeAll(async () => {
  server = await startRedis();
  writeFileSync(
    MODULE,
    [
      // (a rejection nobody handles, the function going on and returning)
      "export async function floating() { Promise.reject(new Error('a write nobody awaited failed')); await new Promise((r) => setTimeout(r, 100)); return 'ok'; }",
      // (a throw from a timer the function set)
      "export async function timerThrows() { setTimeout(() => { throw new Error('thrown from a timer'); }, 10); await new Promise((r) => setTimeout(r, 100)); return 'ok'; }",
      "export async function slow() { await new Promise((r) => setTimeout(r, 2500)); return 'slow done'; }",
    ].join('\n'),
  );
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

function startWorker(prefix: string): { proc: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const env: Record<string, string | undefined> = { ...process.env, REDIS_URL: server.url, TASK_SWARM_LOG: 'info' };
  for (const k of ['REDIS_PASSWORD', 'TASK_SWARM_SECRET', 'TASK_SWARM_DEBUG']) delete env[k];
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--functions', MODULE, '--port', '0', '--key-prefix', prefix], { env });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, out: () => out, exited };
}

describe('a task function that leaves an unhandled rejection or throws from a timer', () => {
  it.each([['floating'], ['timerThrows']])('%s: the worker process goes on, and the task running beside it ends', async (fn) => {
    const prefix = `floating-${fn}:`;
    const w = startWorker(prefix);
    const client = new Client({ redis: { ...server.options(), keyPrefix: prefix } });
    let alive = true;
    void w.exited.then(() => (alive = false));
    try {
      await until(() => /started on/.test(w.out()), 'the worker to start', 20_000);
      const beside = await client.submit('slow', null);
      await until(async () => (await client.get(beside))?.state === 'RUNNING', 'the slow task to run', 10_000);
      const bad = await client.submit(fn, null);
      const slow = await client.wait(beside, { timeout: 10_000 }).catch((e: unknown) => e);
      expect(alive, w.out()).toBe(true);
      expect(slow).toMatchObject({ outcome: 'succeeded', result: 'slow done' });
      expect(await client.get(bad)).toMatchObject({ state: 'END' });
      expect(w.out()).not.toMatch(/^\s+at /m);
      // one line, saying what and where
      await until(() => /task-swarm: (a promise rejected with no handler|an error thrown outside any task call).*\(the worker goes on\): Error: (a write nobody awaited failed|thrown from a timer) \(at file:.*functions\.mjs:\d+:\d+\)\n/.test(w.out()), 'the line that says it', 5000);
    } finally {
      await client.close();
      if (alive) w.proc.kill('SIGTERM');
      await w.exited;
    }
  }, 60_000);
});
