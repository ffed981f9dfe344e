/**
 * The README's first example ("Use it"), copied into a script as a newcomer does and run as a
 * process: it must run to its end on its own, the task it waits for ended, and the process
 * exit by itself. Only where it reaches is changed: this test's Redis and key prefix, and a
 * free port for the worker's peer pings.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/** the first ```ts block of the section "Use it" */
function useItExample(): string {
  const section = README.slice(README.indexOf('\n## Use it\n'));
  const block = /\n```ts\n([\s\S]*?)\n```\n/.exec(section);
  if (!block) throw new Error('README: no ts example under "## Use it"');
  return block[1]!;
}

let server: RedisServer;
let dir: string;

beforeAll(async () => {
  server = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-readme-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await server.stop();
});

describe("README's first example", () => {
  it('runs to its end as written: the waited task ended, the process exits 0 by itself', async () => {
    const example = useItExample();
    const redisLine = /^const redis = \{ host: '127\.0\.0\.1', port: 6379 \};.*$/m;
    expect(example).toMatch(redisLine);
    expect(example).toContain("from 'task-swarm';");
    expect(example).toContain('port: 6000,');
    const { host, port, keyPrefix } = server.options();
    const script =
      example
        .replace("from 'task-swarm';", `from ${JSON.stringify(INDEX)};`)
        .replace(redisLine, `const redis = ${JSON.stringify({ host, port, keyPrefix })};`)
        .replace('port: 6000,', 'port: 0,') + '\nconsole.log(`waited: ${task.state}`);\n';
    const file = join(dir, 'app.mts');
    writeFileSync(file, script);
    const started = Date.now();
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', file], { cwd: fileURLToPath(new URL('..', import.meta.url)), timeout: 30_000, env: { ...process.env, TASK_SWARM_LOG: 'silent' } }, (err, stdout, stderr) => {
        const status = (err as { code?: unknown } | null)?.code;
        resolve({ code: err ? (typeof status === 'number' ? status : null) : 0, stdout, stderr });
      });
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^waited: END$/m);
    // (its wait is for a task a live worker runs at once: not the wait's timeout of 60 s)
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 40_000);
});
