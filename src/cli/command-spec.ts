/**
 * What a command is, as each command's file declares it (src/cli/commands/), and what its run
 * gets: the shape src/cli/program.ts turns into a commander subcommand.
 */
import type { Option } from 'commander';
import type { RedisOptions } from '../config.js';
import type { CliIO } from './io.js';

export interface Positional {
  /** commander's syntax: `<id>` (required), `[json-data]` (optional) */
  syntax: string;
  /** what its absence is reported as: "missing task id" */
  noun: string;
  /** for help */
  doc: string;
  /** reads it (and refuses it with a UsageError) before the command runs */
  parse?: (raw: string) => unknown;
}

export interface CommandSpec {
  name: string;
  /** one line, lower case, in the list of commands */
  summary: string;
  /** more, in the command's own help */
  details?: string;
  /** its usage line, when commander's (from the arguments) does not say it */
  usage?: string;
  args?: Positional[];
  options?: Option[];
  /** text at the end of the command's help */
  help?: string;
  run(inv: Invocation): Promise<number>;
}

/** One run of a command. */
export interface Invocation {
  io: CliIO;
  /** the arguments, parsed, in the order declared (undefined: an optional one not given) */
  args: unknown[];
  /** the values of the command's options and of the options of every command */
  opts: Record<string, unknown>;
  /** where an option's value came from: 'cli' (typed), 'env', 'default' */
  source(key: string): string | undefined;
  /** one warning line on stderr */
  warn(text: string): void;
  /** where Redis is, from the options of every command and the environment */
  redis: RedisOptions;
  /** "task-swarm submit [options] <function> [json-data]" */
  usage: string;
}
