/**
 * `secret: ''` (as `secret: process.env.SWARM_SECRET ?? ''` gives where the variable is unset):
 * a Worker and a Monitor take it, and since an empty secret is falsy they run with no secret at
 * all: the worker answers peer pings with a plain PONG that anyone can forge, and counts the
 * peers that do have the secret (they sign their answers) as unreachable. Nothing says so.
 * `task-swarm worker --secret ''` does the same, with only the warning that --secret shows in ps. The CLI refuses an empty
 * secret file; the constructors must refuse the empty string, a ConfigError naming the option.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, Monitor, Worker } from '../src/index.js';
import { expectOneLine, runProcess } from './helpers/cli.js';
import { startRedis } from './helpers/redis-server.js';

const made = (f: () => unknown) => {
  try {
    f();
    return undefined;
  } catch (e) {
    return e;
  }
};

describe('an empty peer secret', () => {
  it('new Worker({ secret: "" }) is refused, naming Worker.secret', () => {
    const e = made(() => new Worker({ secret: '', port: 0 }));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(/Worker\.secret/);
  });

  it('new Monitor({ secret: "" }) is refused, naming Monitor.secret', () => {
    const e = made(() => new Monitor({ secret: '' }));
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toMatch(/Monitor\.secret/);
  });

  it("task-swarm worker --secret '': one line, status 2, no worker started", async () => {
    const server = await startRedis();
    const module = join(tmpdir(), `task-swarm-empty-secret-${process.pid}.mjs`);
    writeFileSync(module, 'export async function f() { return 1; }\n');
    try {
      // (as a process: a worker that started runs until the timeout's signal)
      const r = await runProcess(['worker', '--functions', module, '--port', '0', '--secret', '', '--key-prefix', 'empty-secret:'], { REDIS_URL: server.url }, 10_000);
      expect(r.stdout).not.toMatch(/started on/);
      const lines = r.stderr.split('\n').filter((l) => l && !/warning: --secret is visible/.test(l));
      expectOneLine({ code: r.code ?? -1, stdout: r.stdout, stderr: lines.join('\n') }, 2, /--secret/);
    } finally {
      rmSync(module, { force: true });
      await server.stop();
    }
  }, 20_000);
});
