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
