/** What a command with --json prints: its result as JSON with --json, else as lines of text. */
import type { Invocation } from './command-spec.js';
import { printJson } from './format.js';

/** Prints `result`, as JSON with --json, else as the lines `describe` makes of it; the command's exit status, 0. */
export function reportResult<T>(inv: Invocation, result: T, describe: (result: T) => string[]): number {
  if (inv.opts.json === true) printJson(inv.io, result);
  else for (const line of describe(result)) inv.io.stdout.write(line + '\n');
  return 0;
}
