/**
 * An option that takes one value, given twice, is refused before anything runs: exit 2 and one
 * line naming the flag (commander kept the last value, silently: `submit --id a --id b` queued
 * task "b"). Checked for every such option of every command, from the program itself, so that
 * an option added later is covered. A repeatable option (`worker -f a -f b`) collects its values.
 */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { REPEATABLE } from '../src/cli/cli-command.js';
import { runMain } from './helpers/cli.js';

const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {} }, () => {});
// (every command's own options, and the program's, which every command takes)
const cases = program.commands.flatMap((c) =>
  [...c.options, ...program.options].filter((o) => (o.required || o.optional) && !REPEATABLE.has(o)).map((o) => [c.name(), o.long!] as const),
);

describe('an option given twice', () => {
  it('is checked for a value option of every command', () => {
    expect(cases.length).toBeGreaterThan(20);
    expect(cases).toContainEqual(['submit', '--id']);
  });

  it.each(cases)('%s %s: refused, exit 2, one line naming the flag', async (command, flag) => {
    const r = await runMain([command, flag, '1', `${flag}=2`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`task-swarm: option ${flag} given twice: give it once\n`);
    expect(r.stdout).toBe('');
  });

  it('a repeatable one collects its values, and is not refused', async () => {
    const r = await runMain(['worker', '-f', './no-such-a.js', '--functions', './no-such-b.js', '--redis-url', 'redis://127.0.0.1:1']);
    expect(r.stderr).not.toMatch(/given twice/);
    expect(r.stderr).toMatch(/no-such-a\.js/);
  });

  it('a flag without a value given twice passes', async () => {
    const r = await runMain(['status', '--json', '--json', '--redis-url', 'redis://127.0.0.1:1']);
    expect(r.stderr).not.toMatch(/given twice/);
  });
});
