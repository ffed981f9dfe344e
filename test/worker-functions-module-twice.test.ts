/**
 * `worker --functions` given a module that holds only functions an earlier `--functions` module
 * registered already: the same file named twice (a shell alias and a script both adding it, or
 * `./tasks.mjs` beside its full path), or an index that re-exports the functions of a module also
 * given. The worker starts and serves them; it once refused to start, status 1, saying the
 * second module "exports no functions", which was not so. A module that really exports none is
 * still refused, in one line naming it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { CLI, expectOneLine, runMain } from './helpers/cli.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let admin: Redis;
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-functions-twice-'));
const children = new Set<ChildProcess>();
const clients: Client[] = [];
let prefixes = 0;

beforeAll(async () => {
  server = await startRedis();
  admin = server.client();
  writeFileSync(join(dir, 'tasks.mjs'), 'export function double(t) { return t.data.n * 2; }\n');
  writeFileSync(join(dir, 'index.mjs'), "export { double } from './tasks.mjs';\n");
  writeFileSync(join(dir, 'none.mjs'), 'export const answer = 42;\n');
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  for (const p of children) p.kill('SIGKILL');
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** a worker process with these --functions; resolves once it registered, and runs a task of `double` */
async function workerServes(functions: string[]): Promise<{ result: unknown; code: number | null; stderr: string }> {
  const prefix = `twice${++prefixes}:`;
  const args = functions.flatMap((f) => ['--functions', f]);
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', ...args, '--port', '0', '--key-prefix', prefix, '--log', 'warn'], {
    env: { ...process.env, REDIS_URL: server.url },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(proc);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => (children.delete(proc), r(code))));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await until(async () => {
    if (proc.exitCode !== null) throw new Error(`worker exited ${proc.exitCode}: ${stderr}`);
    return (await admin.scard(`${prefix}workers`)) > 0 || undefined;
  }, 'the worker to register', 15_000);
  const client = new Client({ redis: { ...server.options(), keyPrefix: prefix } });
  clients.push(client);
  const task = await client.wait(await client.submit('double', { n: 21 }), { timeout: 10_000 });
  proc.kill('SIGTERM');
  return { result: task.outcome === 'succeeded' ? task.result : task, code: await exited, stderr };
}

describe('worker --functions, a module whose functions were registered already', () => {
  it('the same module twice, by the same path: the worker starts and runs its tasks', async () => {
    const r = await workerServes([join(dir, 'tasks.mjs'), join(dir, 'tasks.mjs')]);
    expect(r).toEqual({ result: 42, code: 0, stderr: 'task-swarm: SIGTERM: stopping the worker (SIGTERM again to exit at once)\n' });
  }, 40_000);

  it('the same module by a relative path and its full path: the worker starts and runs its tasks', async () => {
    const r = await workerServes([relative(process.cwd(), join(dir, 'tasks.mjs')), join(dir, 'tasks.mjs')]);
    expect(r).toEqual({ result: 42, code: 0, stderr: 'task-swarm: SIGTERM: stopping the worker (SIGTERM again to exit at once)\n' });
  }, 40_000);

  it('an index re-exporting a module also given: the worker starts and runs its tasks', async () => {
    const r = await workerServes([join(dir, 'tasks.mjs'), join(dir, 'index.mjs')]);
    expect(r).toEqual({ result: 42, code: 0, stderr: 'task-swarm: SIGTERM: stopping the worker (SIGTERM again to exit at once)\n' });
  }, 40_000);

  it('beside them, a module that exports no function: one line naming it, status 1', async () => {
    const r = await runMain(['worker', '--functions', join(dir, 'tasks.mjs'), '--functions', join(dir, 'none.mjs'), '--port', '0', '--key-prefix', `twice${++prefixes}:`], {
      REDIS_URL: server.url,
    });
    expectOneLine(r, 1, new RegExp(`^task-swarm: --functions module ${join(dir, 'none.mjs').replace(/[.]/g, '\\.')} exports no functions\n$`));
  });
});
