/**
 * The `task-swarm` program: the options of every command (where Redis is, key names), the
 * commands of src/cli/commands/, help generated from both, and --version. Built afresh for each
 * run of `main`, writing to its io.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Help, type Argument, type Command, type HelpConfiguration } from 'commander';
import { CliCommand } from './cli-command.js';
import type { CommandSpec } from './command-spec.js';
import { COMPONENT_COMMANDS, PEER_SECRET_HELP } from './commands/components.js';
import { DEAD_LETTER_COMMANDS } from './commands/dead-letters.js';
import { ORDER_COMMANDS } from './commands/order.js';
import { CLUSTER_COMMANDS } from './commands/cluster.js';
import { DASHBOARD_COMMANDS } from './commands/dashboard.js';
import { SCHEDULE_COMMANDS } from './commands/schedules.js';
import { TASK_COMMANDS } from './commands/tasks.js';
import { connectionOptions, redisOptions } from './connection.js';
import { UsageError } from './errors.js';
import { quote } from './format.js';
import { PROG, type CliIO } from './io.js';
import { REDIS_PASSWORD } from './secrets.js';
import { helpWidth, PIPE_WIDTH, wrap } from './wrap.js';

export const COMMANDS: CommandSpec[] = [...COMPONENT_COMMANDS, ...TASK_COMMANDS, ...DEAD_LETTER_COMMANDS, ...ORDER_COMMANDS, ...SCHEDULE_COMMANDS, ...CLUSTER_COMMANDS, ...DASHBOARD_COMMANDS];

/** Where secrets come from, in the help of every command (anything in argv shows in `ps`). */
const REDIS_SECRET_HELP =
  'Secrets: the command line is visible to other users (ps). Give the Redis password with env ' +
  `${REDIS_PASSWORD.env} or ${REDIS_PASSWORD.file} <path>, not inside --redis-url.`;

const PROGRAM_HELP = [
  '',
  `"${PROG} <command> --help" shows a command's own options.`,
  '',
  'Examples:',
  `  ${PROG} worker --functions ./tasks.js --port 6001 --concurrency 4`,
  `  ${PROG} monitor --task-timeout 10000`,
  `  ${PROG} submit render '{"frame":1}' --wait`,
  `  ${PROG} control <id> stop`,
  '',
  REDIS_SECRET_HELP,
  PEER_SECRET_HELP,
  '',
  'Exit status: 0 ok, 1 runtime error (Redis unreachable, unknown task, task failed), 2 usage error.',
].join('\n');

export function version(): string {
  // src/cli/program.ts and dist/src/cli/program.js sit two and three levels below package.json
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'task-swarm') return pkg.version ?? '?';
    } catch {
      // keep looking
    }
  }
  return '?';
}

/** `<id>`, `[json-data]`, `[arguments...]`: an argument as commander writes it in a usage line */
const argumentTerm = (a: Argument): string => {
  const name = `${a.name()}${a.variadic ? '...' : ''}`;
  return a.required ? `<${name}>` : `[${name}]`;
};

/**
 * A command's own usage, where it has one (`limit <function> | --group <name>  --concurrency n
 * ...`): its first part, what it is given, as the list of commands says it. The list said
 * `limit [function]` from the arguments alone, and `move-slot` with nothing, where the usage
 * line says `<function> | --group <name>` and `--to host:port [--partition n]`.
 */
const OWN_USAGE_TERMS = new WeakMap<Command, string>();

/**
 * Columns a description keeps at least: more than the widest word of the help
 * (`REDIS_URL=redis+sentinel://h:p,h:p/name)`, 40), so that none passes the width.
 */
const ROOM = 44;
/** how far in a description starts when it has the lines under its term to itself */
const UNDER = 6;

/**
 * commander's help, laid out as commander does, but every part wrapped by `wrap` (src/cli/wrap.ts)
 * at the width it prints at. commander wrapped only a description with 40 columns beside the
 * widest term of its help (the program's are 42 wide: at 80 columns no description was wrapped,
 * lines ran to 250 columns), and never the usage line or the text after the lists.
 *
 * A description starts just past the widest term, as commander's did, unless that leaves it less
 * than ROOM columns; then further left, and a term too wide for that column stands on a line of
 * its own with its description on the lines under it (as argparse and man do), so that no
 * description is squeezed into a narrow strip at 80 columns.
 */
const HELP_LAYOUT: HelpConfiguration = {
  formatHelp(cmd, helper) {
    const width = helper.helpWidth ?? PIPE_WIDTH;
    const [usage = '', ...rest] = Help.prototype.formatHelp.call(helper, cmd, helper).split('\n');
    // (the usage line goes on under what the command takes, as a man page's synopsis)
    const hang = `Usage: ${PROG}${cmd.parent ? ` ${cmd.name()}` : ''} `.length;
    return [wrap(usage, width, width - hang >= ROOM ? hang : 'Usage: '.length), ...rest].join('\n');
  },
  formatItem(term, termWidth, description, helper) {
    const width = helper.helpWidth ?? PIPE_WIDTH;
    const column = Math.max(UNDER, Math.min(2 + termWidth + 2, width - ROOM));
    const item = `  ${term}`;
    if (!description) return wrap(item, width, UNDER);
    if (item.length + 2 <= column) return wrap(item.padEnd(column) + description.replace(/\n/g, `\n${' '.repeat(column)}`), width, column);
    return `${wrap(item, width, UNDER)}\n${wrap(description.replace(/^/gm, ' '.repeat(column)), width)}`;
  },
  boxWrap: (text, width) => wrap(text, width),
};

const sentence = (s: string) => s[0]!.toUpperCase() + s.slice(1) + '.';

/**
 * The program for one run. `done` is told the exit status of the command that ran (commander's
 * parse resolves with the program, not with what the action returned).
 */
export function buildProgram(io: CliIO, done: (status: number) => void): CliCommand {
  const program = new CliCommand(io.env, PROG);
  const names = COMMANDS.map((c) => c.name).join(', ');
  program
    .usage('<command> [arguments] [options]')
    .description('Swarm-like distributed tasks on Redis: run workers and monitors, submit tasks, follow, wait for and control them.')
    .version(version(), '--version', 'print the version')
    .helpCommand(false)
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      // an error is thrown (exitOverride) and printed by main, as one line
      outputError: () => {},
      getOutHelpWidth: () => helpWidth(io.stdout),
      getErrHelpWidth: () => helpWidth(io.stderr),
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    })
    // (each command with its arguments, `submit <function> [json-data]`, as its own usage line
    // says them: the name alone told nothing of what a command takes)
    .configureHelp({ ...HELP_LAYOUT, showGlobalOptions: true, subcommandTerm: (c) => [c.name(), ...(OWN_USAGE_TERMS.has(c) ? [OWN_USAGE_TERMS.get(c)!] : c.registeredArguments.map(argumentTerm))].join(' ') })
    // a name that is no command comes here (commander would print the whole help on stderr)
    .argument('[command]')
    .argument('[arguments...]')
    .action((command: string | undefined, rest: string[]) => {
      if (command === undefined) throw new UsageError(`missing command (one of ${names}); "${PROG} --help" shows usage`);
      // (`help submit`, as git and npm take it, was an unknown command "help")
      if (command === 'help') {
        if (rest.length > 1) throw new UsageError(`help: give one command's name (usage: ${PROG} help [command])`);
        // (`help help`: help itself, the program's, as `help` alone; it was "unknown command "help"",
        // of a command this very line had just run)
        const target = rest[0] === undefined || rest[0] === 'help' ? program : program.commands.find((c) => c.name() === rest[0]);
        if (!target) throw new UsageError(`unknown command ${quote(rest[0]!)} (one of ${names}); "${PROG} --help" shows usage`);
        target.outputHelp();
        done(0);
        return;
      }
      throw new UsageError(`unknown command ${quote(command)} (one of ${names}); "${PROG} --help" shows usage`);
    })
    .addHelpText('after', afterLists(PROGRAM_HELP, io));
  for (const option of connectionOptions()) program.addOption(option);
  for (const spec of COMMANDS) addCommand(program, spec, io, done);
  return program;
}

/** text after a command's lists, wrapped at the width of where the help goes */
const afterLists =
  (text: string, io: CliIO) =>
  ({ error }: { error: boolean }): string =>
    wrap(text, helpWidth(error ? io.stderr : io.stdout));

function addCommand(program: CliCommand, spec: CommandSpec, io: CliIO, done: (status: number) => void): void {
  const cmd = program.command(spec.name) as CliCommand;
  // (details are written wrapped at about 100 columns: one paragraph, which src/cli/wrap.ts wraps
  // again at the width it prints at, 80 in a pipe; left wrapped, every other line was a few words)
  const details = spec.details?.replace(/(?<!\n)\n(?!\n)/g, ' ');
  cmd.summary(spec.summary).description(sentence(spec.summary) + (details ? `\n\n${details}` : ''));
  for (const a of spec.args ?? []) cmd.positional(a.syntax, a.noun, a.doc, a.parse);
  if (spec.usage) {
    cmd.usage(spec.usage);
    OWN_USAGE_TERMS.set(cmd, spec.usage.split(/ {2,}/)[0]!);
  }
  for (const option of spec.options ?? []) cmd.addOption(option);
  cmd.addHelpText('after', afterLists(`\n${REDIS_SECRET_HELP}${spec.help ? `\n${spec.help}` : ''}`, io));
  cmd.action(async () => {
    const opts = cmd.optsWithGlobals<Record<string, unknown>>();
    const source = (key: string) => cmd.getOptionValueSourceWithGlobals(key);
    const warn = (text: string) => io.stderr.write(`${PROG}: warning: ${text}\n`);
    const redis = redisOptions(opts, source, warn);
    done(await spec.run({ io, args: cmd.processedArgs, opts, source, warn, redis, usage: cmd.usageLine() }));
  });
}
