/**
 * An option given twice is judged as commander judges the command line: by the options of the
 * command being run (the program's before the command's name, the program's and the command's
 * after it). One the command does not take, one of a command given before the command's name,
 * or a line whose command does not exist, gets the error it gets when given once (the option
 * does not apply, give it after the command's name, no such command), not "given twice: give it
 * once", which the user would obey only to be told the real error next. What the command does
 * take is still refused when given twice, a value attached to a short flag included.
 */
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/program.js';
import { REPEATABLE } from '../src/cli/cli-command.js';
import { runMain } from './helpers/cli.js';

const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {} }, () => {});
const takesValue = (o: { required: boolean; optional: boolean }) => o.required || o.optional;
const rootFlags = new Set(program.options.map((o) => o.long));

// for each command, a value option of another command that it does not take
const foreign = program.commands.flatMap((c) => {
  const own = new Set([...c.options, ...program.options].map((o) => o.long));
  const other = program.commands.flatMap((d) => d.options).find((o) => takesValue(o) && !own.has(o.long) && !REPEATABLE.has(o));
  return other ? [[c.name(), other.long!] as const] : [];
});
// for each command, a value option of its own, given before the command's name
const early = program.commands.flatMap((c) => {
  const o = c.options.find((o) => takesValue(o) && !rootFlags.has(o.long) && !REPEATABLE.has(o));
  return o ? [[c.name(), o.long!] as const] : [];
});

describe('an option given twice that the command being run does not take', () => {
  it('is checked for every command', () => {
    expect(foreign.length).toBe(program.commands.length);
    expect(early.length).toBeGreaterThan(5);
  });

  it.each(foreign)('%s %s: the error of the option given once', async (command, flag) => {
    const once = await runMain([command, flag, '1']);
    const twice = await runMain([command, flag, '1', `${flag}=2`]);
    expect(once.code).toBe(2);
    expect(twice).toEqual(once);
  });

  it.each(early)('%s, %s before it: the error of the option given once', async (command, flag) => {
    const once = await runMain([flag, '1', command]);
    const twice = await runMain([flag, '1', `${flag}=2`, command]);
    expect(once.code).toBe(2);
    expect(twice).toEqual(once);
  });

  it('after a command that does not exist: the error of the option given once', async () => {
    const once = await runMain(['no-such-command', '--id', 'a']);
    const twice = await runMain(['no-such-command', '--id', 'a', '--id', 'b']);
    expect(once.code).toBe(2);
    expect(twice).toEqual(once);
  });
});

describe('an option given twice that the command being run takes', () => {
  it.each([
    [['submit', 'fn', '--id', 'a', '--id', 'b'], '--id'],
    [['submit', 'fn', '-1', '--id', 'a', '--id', 'b'], '--id'],
    [['--redis-url', 'redis://127.0.0.1:1', 'get', 'x', '--redis-url=redis://127.0.0.1:2'], '--redis-url'],
    [['--key-prefix', 'a', '--key-prefix', 'b', 'get', 'x'], '--key-prefix'],
    [['worker', '-fa.js', '-fb.js', '--port', '1', '--port', '2'], '--port'],
    [['submit', 'fn', 'null', '--id', 'a', '--', '--id'], undefined],
  ])('%j: refused when the command takes it', async (argv, flag) => {
    const r = await runMain(argv, { REDIS_URL: 'redis://127.0.0.1:1' });
    if (flag) {
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(`task-swarm: option ${flag} given twice: give it once\n`);
    } else expect(r.stderr).not.toMatch(/given twice/);
  });
});
