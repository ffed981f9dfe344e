/**
 * The help wrapped at 80 columns where it goes to no terminal: `--help`, `help`, and for every
 * command `help <command>` and `<command> --help`, its stdout no terminal (`--help` run as a real
 * process into a pipe; the others in-process, whose output is no terminal either: a process each
 * took 80 s on two cores).
 * No line is wider than 80 (it ran to 250 before: commander left descriptions unwrapped beside
 * terms 42 wide, and never wrapped the usage line or the text after the lists); a wrapped
 * description goes on under its column, a wrapped usage line under what the command takes; and
 * the text, its whitespace collapsed, is the help unwrapped (run in-process on a terminal so wide
 * that nothing wraps): no word lost, none split. And `wrap` itself, on what the help does not
 * show today: a word wider than the room stands whole on a line of its own.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/cli/program.js';
import { wrap } from '../src/cli/wrap.js';
import { runMain, runProcess } from './helpers/cli.js';

const WIDTH = 80;

const collapse = (s: string) => s.replace(/\s+/g, ' ').trim();

/**
 * What is wrong in the layout of `help` (the help of `command`, the program's when undefined):
 * a line wider than WIDTH, a usage line that goes on elsewhere than under what the command takes,
 * an item of a list (options, arguments, commands) whose lines do not stand under the column of
 * the descriptions.
 */
function layoutFaults(help: string, command: string | undefined): string[] {
  const faults: string[] = [];
  const lines = help.replace(/\n$/, '').split('\n');
  lines.forEach((line, i) => {
    if (line.length > WIDTH) faults.push(`line ${i + 1} is ${line.length} wide: ${JSON.stringify(line)}`);
  });
  const hang = ' '.repeat(`Usage: task-swarm ${command ? `${command} ` : ''}`.length);
  for (let i = 1; lines[i] !== ''; i++) if (!lines[i]!.startsWith(hang) || lines[i]![hang.length] === ' ') faults.push(`usage line ${JSON.stringify(lines[i])} is not under ${JSON.stringify(hang)}`);
  // the column: where a description beside its term starts (every list of one help has the same)
  const column = /^ {2}\S+(?: \S+)* {2,}(?=\S)/m.exec(help)?.[0].length;
  if (column === undefined) return [...faults, 'no item with its description beside it'];
  // a list: a block under a heading (`Options:`, `Redis connection (every command):`) whose every line is indented
  for (const block of help.split('\n\n')) {
    const [heading, ...items] = block.split('\n');
    if (!/^\S.*:$/.test(heading!) || items.length === 0 || !items.every((l) => l.startsWith('  '))) continue;
    for (const line of items) {
      const term = /^ {2}\S/.test(line);
      const under = line.startsWith(' '.repeat(column)) && line[column] !== ' ';
      if (!term && !under) faults.push(`${heading} ${JSON.stringify(line)} is not under column ${column}`);
    }
  }
  return faults;
}

/** the help of `argv` as it goes to no terminal (a process's pipe, or in-process), checked, and against the help unwrapped */
async function expectWrapped(argv: string[], command: string | undefined, asProcess = false): Promise<void> {
  const [piped, unwrapped] = await Promise.all([asProcess ? runProcess(argv, {}, 45_000) : runMain(argv), runMain(argv, {}, { columns: 1_000_000 })]);
  expect(piped, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
  expect(unwrapped, argv.join(' ')).toMatchObject({ code: 0, stderr: '' });
  expect(layoutFaults(piped.stdout, command), argv.join(' ')).toEqual([]);
  // (the help unwrapped does have lines past 80: this test checks wrapping, not a help that fits anyway)
  expect(Math.max(...unwrapped.stdout.split('\n').map((l) => l.length)), argv.join(' ')).toBeGreaterThan(WIDTH);
  expect(collapse(piped.stdout), argv.join(' ')).toBe(collapse(unwrapped.stdout));
}

describe('help in a pipe: at most 80 columns, every word of it kept', () => {
  it('--help (a real process, into a pipe) and help', async () => {
    await Promise.all([expectWrapped(['--help'], undefined, true), expectWrapped(['help'], undefined)]);
  }, 100_000);

  for (const { name } of COMMANDS) {
    it(`help ${name} and ${name} --help`, async () => {
      await Promise.all([expectWrapped(['help', name], name), expectWrapped([name, '--help'], name)]);
    }, 100_000);
  }
});

describe('help on a narrow terminal', () => {
  // (every text in quotes that holds a space, as the help shows it unwrapped, is on one line of it at 30 to 79 columns)
  for (const name of ['schedule', 'submit', 'cancel']) {
    it(`${name} --help keeps each quoted text on one line`, async () => {
      const unwrapped = await runMain([name, '--help'], {}, { columns: 1_000_000 });
      const quoted = [...unwrapped.stdout.matchAll(/(?<!\S)("[^"\n]* [^"\n]*"|'[^'\n]* [^'\n]*')/g)].map((m) => m[1]!);
      if (name === 'schedule') expect(quoted).toContain('"0 3 * * *"');
      for (let columns = 30; columns < 80; columns++) {
        const narrow = await runMain([name, '--help'], {}, { columns });
        for (const q of quoted) expect(narrow.stdout, `${q} at ${columns} columns`).toContain(q);
      }
    });
  }
});

describe('wrap', () => {
  it('breaks at spaces only, the lines it adds starting `hang` in; a line that fits is left as it is', () => {
    expect(wrap('  --flag <n>   one two three four', 20, 15)).toBe('  --flag <n>   one\n               two\n               three\n               four');
    expect(wrap('short  line', 20, 4)).toBe('short  line');
    // (by default, as far in as the line starts; each line of the text on its own)
    expect(wrap('  aaa bbb ccc\nddd eee fff', 9)).toBe('  aaa bbb\n  ccc\nddd eee\nfff');
  });

  it('leaves a word wider than the room whole, on a line of its own', () => {
    const url = 'https://example.com/a/path/much/longer/than/the/room/left';
    expect(wrap(`see ${url} for more`, 30, 4)).toBe(`see\n    ${url}\n    for more`);
    expect(wrap(url, 20, 4)).toBe(url);
  });

  it('keeps text in quotes that a word opens whole; a quote within a word opens nothing', () => {
    expect(wrap('a cron, e.g. "0 3 * * *" (not', 16, 2)).toBe('a cron, e.g.\n  "0 3 * * *"\n  (not');
    expect(wrap("data, e.g. '{\"a\": 1}', or", 12, 0)).toBe("data, e.g.\n'{\"a\": 1}',\nor");
    expect(wrap("the workers' limits and the task's own", 14, 0)).toBe("the workers'\nlimits and the\ntask's own");
  });

  it('keeps a [...] group of a usage line whole', () => {
    expect(wrap('Usage: x --to host:port [--partition n]', 30, 9)).toBe('Usage: x --to host:port\n         [--partition n]');
  });
});
