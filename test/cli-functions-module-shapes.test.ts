/**
 * `worker --functions <path>` given what is not a module of task functions:
 * - a directory (the project's folder, not its index.js): Node's "Directory import '<dir>' is not
 *   supported resolving ES modules imported from <task-swarm's own dist file>", a path inside
 *   task-swarm the user never named, status 1; a path typed wrong is a usage mistake (status 2),
 *   as "--functions: no such file" is;
 * - a module exporting a function under the name "" (`export { f as "" }`): "addTaskFunction:
 *   name must be a non-empty string", the words of a library call the user did not make, naming
 *   neither the module nor the export;
 * - a module that exports a class beside its functions (a helper, a model): the class is
 *   registered as a task function (the worker says "functions: Job, render"), and a task of that
 *   name can only fail ("Class constructor Job cannot be invoked without 'new'").
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFunctions } from '../src/cli/functions-module.js';
import { expectOneLine, runMain } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-functions-shapes-'));
beforeAll(async () => {
  server = await startRedis();
  mkdirSync(join(dir, 'project'));
  writeFileSync(join(dir, 'project', 'index.js'), 'export async function render() { return 1; }\n');
  writeFileSync(join(dir, 'empty-name.mjs'), 'const f = async () => 1;\nexport { f as "" };\n');
  writeFileSync(join(dir, 'with-class.mjs'), 'export class Job { constructor(x) { this.x = x; } }\nexport async function render() { return 1; }\n');
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('worker --functions given what is not a module of task functions', () => {
  it('a directory: one line saying it is a directory, status 2, no path inside task-swarm', async () => {
    const r = await runMain(['worker', '--functions', join(dir, 'project'), '--port', '0', '--key-prefix', 'shapes1:'], { REDIS_URL: server.url });
    expectOneLine(r, 2, /directory/i);
    expect(r.stderr).not.toMatch(/functions-module|imported from/);
  });

  it('a function exported under the name "": one line naming the module and the export, not addTaskFunction', async () => {
    const r = await runMain(['worker', '--functions', join(dir, 'empty-name.mjs'), '--port', '0', '--key-prefix', 'shapes2:'], { REDIS_URL: server.url });
    expectOneLine(r, 1, /empty-name\.mjs/);
    expect(r.stderr).not.toMatch(/addTaskFunction/);
  });

  it('a class exported beside the functions is not registered as a task function', async () => {
    const functions = await loadFunctions([join(dir, 'with-class.mjs')]);
    expect([...functions.keys()]).toEqual(['render']);
  });
});
