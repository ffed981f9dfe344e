/**
 * `worker --functions <module>` whose module fails to load says what the module threw, in one
 * line, whatever it threw: a module whose top level throws something that is not an Error
 * (`throw "no DATABASE_URL"`, `throw null`; common in quick scripts) was reported through
 * `(e as Error).message.split(...)`, which threw in turn ("unexpected error: Cannot read
 * properties of undefined"). And a module whose loading never finishes (a top-level await of
 * something that never comes) ended the process with status 0 and nothing said: Node exits when
 * nothing is left to wait for.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLine, runMain, runProcess } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-functions-throw-'));
beforeAll(async () => {
  server = await startRedis();
  writeFileSync(join(dir, 'throws-string.mjs'), 'throw "no DATABASE_URL set";\n');
  writeFileSync(join(dir, 'throws-null.mjs'), 'throw null;\n');
  // a top-level await that never settles, with nothing else pending (an event awaited that never comes)
  writeFileSync(join(dir, 'never-loads.mjs'), 'await new Promise(() => {});\nexport function f() { return 1; }\n');
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('worker --functions with a module that throws a non-Error', () => {
  it('a string: one line naming the module and what it threw, status 1', async () => {
    const r = await runMain(['worker', '--functions', join(dir, 'throws-string.mjs'), '--port', '0', '--key-prefix', 'rf1:'], { REDIS_URL: server.url });
    expectOneLine(r, 1, /cannot load --functions module .*throws-string\.mjs: .*no DATABASE_URL set/);
    expect(r.stderr).not.toMatch(/unexpected error|Cannot read properties/);
  });

  it('null: one line naming the module, no "Cannot read properties of null", status 1', async () => {
    const r = await runMain(['worker', '--functions', join(dir, 'throws-null.mjs'), '--port', '0', '--key-prefix', 'rf2:'], { REDIS_URL: server.url });
    expectOneLine(r, 1, /cannot load --functions module .*throws-null\.mjs/);
    expect(r.stderr).not.toMatch(/unexpected error|Cannot read properties/);
  });

  // The import's promise never settles and nothing else keeps the event loop alive: node ends the
  // process with status 0 and nothing said, as if the worker had run and stopped cleanly.
  it('a module that never finishes loading: one line saying the command stopped unfinished, status 1', async () => {
    const r = await runProcess(['worker', '--functions', join(dir, 'never-loads.mjs'), '--port', '0', '--key-prefix', 'rf3:'], { REDIS_URL: server.url }, 15_000);
    expectOneLine({ ...r, code: r.code ?? -1 }, 1, /stopped before it finished/);
  });
});
