#!/usr/bin/env node
/**
 * The `task-swarm` command: run a worker or a monitor, submit tasks, read, follow, wait for and
 * control them, read or retry the dead-letter list, order the queue (limits, pause, resume) and
 * set schedules. Built on commander (src/cli/program.ts; each command group in
 * src/cli/commands/).
 *
 * Every mistake a user can make ends in one line on stderr, `task-swarm: <message>`, and exit
 * status 2 (usage: unknown command or option, bad value, bad JSON) or 1 (runtime: Redis
 * unreachable, unknown task, task failed, timeout). No stack traces (TASK_SWARM_DEBUG=1 shows
 * them). What is read from Redis goes through total formatters: junk there prints as junk and
 * the command goes on.
 *
 * `main` is the whole command and returns its exit status, so tests can run it in-process; the
 * bin entry at the bottom only turns that status into the process's, and ends the process
 * quietly (status 0) when the reader of its stdout or stderr goes away (`| head -1`).
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CommanderError } from 'commander';
import { refuseFlagLikeValues, refuseRepeatedOptions } from './cli/cli-command.js';
import { asFlags, exitCodeOf, isKnown, redisRefusal, wrongTypeRefusal } from './cli/errors.js';
import { endQuietlyOnBrokenPipe, PROCESS_IO, PROG, type CliIO } from './cli/io.js';
import { buildProgram } from './cli/program.js';
import { routeLibraryWarnings } from './cli/library-warnings.js';

export type { CliIO } from './cli/io.js';

/**
 * Run one command line; resolves with its exit status (0 ok, 1 runtime error, 2 usage error).
 * A worker or monitor resolves once a signal has stopped it (130/143 when a second signal cut
 * the stop short). Never rejects, never exits the process.
 */
export async function main(argv: string[], io: CliIO = PROCESS_IO): Promise<number> {
  let status = 0;
  const unroute = routeLibraryWarnings((text) => io.stderr.write(`${PROG}: warning: ${text}\n`));
  try {
    const program = buildProgram(io, (code) => (status = code));
    refuseFlagLikeValues(argv, program);
    refuseRepeatedOptions(argv, program);
    await program.parseAsync(argv, { from: 'user' });
    return status;
  } catch (caught) {
    // --help and --version end the parse this way too
    if (caught instanceof CommanderError && caught.exitCode === 0) return 0;
    const e = wrongTypeRefusal(redisRefusal(asFlags(caught)));
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    io.stderr.write(`${PROG}: ${isKnown(e) ? message : `unexpected error: ${message}`}\n`);
    if (io.env.TASK_SWARM_DEBUG && e instanceof Error) io.stderr.write(`${e.stack}\n`);
    return exitCodeOf(e);
  } finally {
    unroute();
  }
}

/** Whether this module is the program being run (node cli.js, the npm bin symlink, tsx), not an import. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  endQuietlyOnBrokenPipe();
  // Node exits 0 when nothing is left to wait for, even with the command unfinished: a promise
  // that never settles (a --functions module whose top-level await never does) ended a worker
  // with status 0 and nothing said
  const unfinished = () => {
    process.stderr.write(`${PROG}: the command stopped before it finished, with nothing left to wait for (a --functions module whose loading never finishes?)\n`);
    process.exit(1);
  };
  process.once('beforeExit', unfinished);
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
