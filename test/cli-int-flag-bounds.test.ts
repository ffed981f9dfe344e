/**
 * A worker's or monitor's integer flag says its least value at once: `--max-attempts -1` said
 * "must be an integer >= 0", and 0, tried next, was refused as "must be >= 1". Every integer
 * field of the schemas with a least value, both commands.
 */
import { describe, expect, it } from 'vitest';
import { MONITOR_FIELDS, WORKER_FIELDS } from '../src/config.js';
import { expectOneLine, runMain } from './helpers/cli.js';

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const bounded = (fields: Record<string, { kind: string; min?: number }>) =>
  Object.entries(fields)
    .filter(([, f]) => f.kind === 'int' && (f.min ?? 0) > 0)
    .map(([key, f]) => [`--${kebab(key)}`, f.min!] as const);
const cases = [...bounded(WORKER_FIELDS).map(([flag, min]) => ['worker', flag, min] as const), ...bounded(MONITOR_FIELDS).map(([flag, min]) => ['monitor', flag, min] as const)];

describe('integer flags below their least value', () => {
  it('are there to check (the schemas have bounded integers)', () => {
    expect(cases.map(([, flag]) => flag)).toEqual(expect.arrayContaining(['--concurrency', '--max-attempts', '--task-timeout']));
  });

  it.each(cases)('%s %s: -1 and one under the least value both say ">= least"', async (command, flag, min) => {
    for (const value of ['-1', String(min - 1)]) {
      const r = await runMain([command, flag, value, '--redis-url', 'redis://127.0.0.1:1']);
      expectOneLine(r, 2, new RegExp(`${flag} must be (an integer )?>= ${min}, got `));
    }
  });
});
