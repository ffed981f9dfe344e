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

/** what a long-running command does when its reader goes away (stops gracefully), instead of exiting at once */
const onReaderGone = new Set<() => void>();

/** `stop` runs, instead of an exit at once, if the reader of stdout or stderr goes away; returns the function that takes it back */
export function whenReaderGone(stop: () => void): () => void {
  onReaderGone.add(stop);
  return () => onReaderGone.delete(stop);
}

/**
 * A reader that goes away (`task-swarm status | head -1`) ends the command at once, quietly, with
 * status 0, as SIGPIPE ends `git log | head`: Node ignores SIGPIPE, so the write fails with EPIPE
 * instead, and an unhandled stream error is a crash with a stack trace. Both streams: stderr may be
 * piped too (`2>&1 | head`). A worker or monitor (`whenReaderGone`) is stopped gracefully instead,
 * its tasks handed back, not dropped with the process; what it would still write there is dropped.
 * Any other write error is left as it was.
 */
export function endQuietlyOnBrokenPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  let gone = false;
  for (const stream of streams) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      // (nothing written there can be read: dropped, rather than an error at every line)
      stream.write = (() => true) as typeof stream.write;
      if (gone) return;
      gone = true;
      if (onReaderGone.size === 0) process.exit(0);
      for (const stop of onReaderGone) stop();
    });
  }
}
