/**
 * `npm run demo -- <arguments>`: the demo takes `--keep`, and `--help` says so; anything else is
 * one line naming it, status 2, before anything starts. A mistyped `--keeep`, or `--help`, ran
 * the whole demo (a redis-server, three workers, a monitor, a dashboard), the argument ignored
 * and nothing said.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../examples/demo.ts', import.meta.url));

function demo(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.REDIS_URL;
    delete env.DEMO_KEEP;
    execFile(process.execPath, ['--import', 'tsx', DEMO, ...args], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      const status = (err as { code?: unknown } | null)?.code;
      resolve({ code: err ? (typeof status === 'number' ? status : null) : 0, stdout, stderr });
    });
  });
}

describe('npm run demo -- <arguments>', () => {
  it.each([['--keeep'], ['keep'], ['--keep=1']])('%s: one line naming it, status 2, nothing started', async (arg) => {
    const r = await demo(arg);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^demo: unknown argument "${arg}"; usage: npm run demo \\[-- --keep\\]`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('--help: the usage on stdout, status 0, nothing started', async () => {
    const r = await demo('--help');
    expect(r).toEqual({ code: 0, stdout: expect.stringMatching(/^usage: npm run demo \[-- --keep\] {3}\(--keep: .*\)\n$/), stderr: '' });
  });
});
