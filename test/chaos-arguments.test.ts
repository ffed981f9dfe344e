/**
 * `npm run chaos -- <options>`: a value that is no whole number, or an option it does not take,
 * is one line naming it, status 2, before anything starts. `--seed abc` ran 150 s of faults with
 * seed NaN (a run no seed replays) over "NaN partition(s)", and an unknown option was node's
 * TypeError with its stack.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHAOS = fileURLToPath(new URL('./chaos/run.ts', import.meta.url));

function chaos(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CHAOS, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      const status = (err as { code?: unknown } | null)?.code;
      resolve({ code: err ? (typeof status === 'number' ? status : null) : 0, stdout, stderr });
    });
  });
}

describe('npm run chaos -- <options>', () => {
  it.each([
    [['--seed', 'abc'], /^chaos: --seed must be a whole number from 0 to 2147483647, got "abc"; usage: /],
    [['--duration', '0'], /^chaos: --duration must be a whole number from 1 to 2147483647, got "0"; usage: /],
    [['--tasks', '1.5'], /^chaos: --tasks must be a whole number from 1 to 2147483647, got "1\.5"; usage: /],
    [['--workers=-2'], /^chaos: --workers must be a whole number from 1 to 2147483647, got "-2"; usage: /],
    [['--partitions', '0'], /^chaos: --partitions must be a whole number from 1 to 256, got "0"; usage: /],
    [['--bogus'], /^chaos: Unknown option '--bogus'.*; usage: npm run chaos -- \[--seed N\]/],
  ])('%j: one line naming it, status 2, nothing started', async (args, said) => {
    const r = await chaos(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(said);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
