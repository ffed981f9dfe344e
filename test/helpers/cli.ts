/**
 * The `task-swarm` command two ways: in-process through `main` (fast: hundreds of runs a
 * second), and as a real process (`node --import tsx src/cli.ts`), for what only a process
 * shows (the bin wrapper's exit status, signals, what `ps` would see).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli.js';

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Variables of the test runner's own environment that would change what the CLI does. */
const CLI_ENV = ['REDIS_URL', 'REDIS_PASSWORD', 'TASK_SWARM_SECRET', 'TASK_SWARM_DEBUG'];

function environment(env: Record<string, string>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...process.env };
  for (const k of CLI_ENV) delete out[k];
  return { ...out, ...env };
}

/** `main(argv)` with its output captured; `env` replaces the CLI's variables of the runner's. */
export async function runMain(argv: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env: environment(env),
  });
  return { code, stdout, stderr };
}

/** The CLI as a process; `code` is its exit status (null when a signal or the timeout ended it). */
export function runProcess(argv: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Omit<CliRun, 'code'> & { code: number | null }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...argv], { env: environment(env), timeout: timeoutMs }, (err, stdout, stderr) => {
      const status = (err as { code?: unknown } | null)?.code;
      resolve({ code: err ? (typeof status === 'number' ? status : null) : 0, stdout, stderr });
    });
  });
}
