/**
 * The `task-swarm` command two ways: in-process through `main` (fast: hundreds of runs a
 * second), and as a real process (`node --import tsx src/cli.ts`), for what only a process
 * shows (the bin wrapper's exit status, signals, what `ps` would see).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { main } from '../../src/cli.js';
import { Client } from '../../src/index.js';

export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Variables of the test runner's own environment that would change what the CLI does. */
const CLI_ENV = ['REDIS_URL', 'REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD', 'TASK_SWARM_SECRET', 'TASK_SWARM_DEBUG'];

function environment(env: Record<string, string>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...process.env };
  for (const k of CLI_ENV) delete out[k];
  return { ...out, ...env };
}

/**
 * `main(argv)` with its output captured; `env` replaces the CLI's variables of the runner's.
 * With `terminal`, stdout and stderr say they are a terminal that many columns wide.
 */
export async function runMain(argv: string[], env: Record<string, string> = {}, terminal?: { columns: number }): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const tty = terminal ? { isTTY: true, columns: terminal.columns } : {};
  const code = await main(argv, {
    stdout: { write: (s: string) => (stdout += s), ...tty },
    stderr: { write: (s: string) => (stderr += s), ...tty },
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

/**
 * A swarm of its own for CLI tests: a fresh key prefix on `server`, the CLI run in-process against
 * it, a Client of it, and the keys it holds (read through `redis`).
 */
export function cliSwarm(
  server: { url: string; options(): Record<string, unknown> },
  redis: { keys(pattern: string): Promise<string[]> },
  prefix: string,
): { prefix: string; run: (...argv: string[]) => Promise<CliRun>; client: Client; keys: () => Promise<string[]> } {
  const run = (...argv: string[]) => runMain([...argv, '--key-prefix', prefix], { REDIS_URL: server.url });
  const client = new Client({ redis: { ...server.options(), keyPrefix: prefix } });
  const keys = async () => (await redis.keys(`${prefix}*`)).sort();
  return { prefix, run, client, keys };
}

/** a user mistake as the CLI must report it: exit `code`, one line on stderr matching `message`, no stack */
export function expectOneLine(r: CliRun, code: number, message: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
}
