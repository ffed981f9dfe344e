/** Where the command writes and what environment it reads: the process's, or a test's. */

/** an output stream; `isTTY` and `columns` as a terminal's (a test may claim to be one) */
export interface CliOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIO {
  stdout: CliOutput;
  stderr: CliOutput;
  env: Record<string, string | undefined>;
}

export const PROCESS_IO: CliIO = { stdout: process.stdout, stderr: process.stderr, env: process.env };

export const PROG = 'task-swarm';

/**
 * A reader that goes away (`task-swarm status | head -1`) ends the command at once, quietly, with
 * status 0, as SIGPIPE ends `git log | head`: Node ignores SIGPIPE, so the write fails with EPIPE
 * instead, and an unhandled stream error is a crash with a stack trace. Both streams: stderr may be
 * piped too (`2>&1 | head`). Any other write error is left as it was.
 */
export function endQuietlyOnBrokenPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
}
