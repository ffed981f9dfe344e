/** Worker and client child processes for tests: spawn, wait for output lines, kill, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER_FIXTURE = fileURLToPath(new URL('../fixtures/worker-process.ts', import.meta.url));
const CLIENT_FIXTURE = fileURLToPath(new URL('../fixtures/client-process.ts', import.meta.url));
const MONITOR_FIXTURE = fileURLToPath(new URL('../fixtures/monitor-process.ts', import.meta.url));
const PRODUCER_FIXTURE = fileURLToPath(new URL('../fixtures/producer-process.ts', import.meta.url));

export interface WorkerProcess {
  proc: ChildProcess;
  address: string;
  lines: string[];
  /** Date.now() when each line arrived */
  times: number[];
  /** its last stderr lines, when spawned with `stderrTail` (its stderr still shows in the test's) */
  stderr: string[];
  /** resolves with the first stdout line matching `re` (past or future) */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

const alive = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of alive) p.kill('SIGKILL');
});

/**
 * `prefix` runs the worker under another command, e.g. `ip netns exec NAME`. `functions` (names,
 * or name -> addTaskFunction options) replaces the fixture's functions with those listed (see
 * test/fixtures/worker-process.ts).
 */
export async function spawnWorker(
  options: Record<string, unknown>,
  prefix: string[] = [],
  functions?: string[] | Record<string, { concurrency?: number }>,
  { stderrTail = 0 }: { stderrTail?: number } = {},
): Promise<WorkerProcess> {
  const env: Record<string, string> = { WORKER_OPTIONS: JSON.stringify(options) };
  if (functions) env.WORKER_FUNCTIONS = JSON.stringify(Array.isArray(functions) ? Object.fromEntries(functions.map((f) => [f, {}])) : functions);
  return spawnFixture(WORKER_FIXTURE, env, prefix, /^READY /, stderrTail);
}

/**
 * Keeps the last `n` lines written to `stream` in `into`, passing them on to this process's
 * stderr as they come.
 */
export function keepTail(stream: NodeJS.ReadableStream, into: string[], n: number): void {
  let buf = '';
  stream.on('data', (c: Buffer) => {
    process.stderr.write(c);
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    into.push(...parts);
    into.splice(0, Math.max(0, into.length - n));
  });
  stream.on('end', () => {
    if (buf) into.push(buf);
    into.splice(0, Math.max(0, into.length - n));
  });
}

/**
 * A Client as a child process (test/fixtures/client-process.ts): it follows one task's events
 * and waits for its end, printing `EVENT <json>` per event and `END <json>` (or `REJECTED
 * <message>`) when the wait settles. `address` is the events channel it follows.
 */
export async function spawnClient(options: { redis: Record<string, unknown>; id: string; timeout?: number }): Promise<WorkerProcess> {
  return spawnFixture(CLIENT_FIXTURE, { CLIENT_OPTIONS: JSON.stringify(options) });
}

/**
 * A Monitor as a child process (test/fixtures/monitor-process.ts): it prints `REQUEUED <id>` and
 * `SCHEDULE <outcome> <tick> <id> <name>` lines; `address` is ''.
 */
export async function spawnMonitor(options: Record<string, unknown>): Promise<WorkerProcess> {
  return spawnFixture(MONITOR_FIXTURE, { MONITOR_OPTIONS: JSON.stringify(options) }, [], /^READY$/);
}

/**
 * A producer as a child process (test/fixtures/producer-process.ts): it submits `tasks` (retrying
 * a failed submit with the same id), then waits for each to end, printing `SUBMITTED <id>` and
 * `END <id> <outcome> <attempt>` lines; `address` is ''.
 */
export async function spawnProducer(options: { redis: Record<string, unknown>; tasks: { id: string; fn: string; data?: unknown }[]; timeout?: number }): Promise<WorkerProcess> {
  return spawnFixture(PRODUCER_FIXTURE, { PRODUCER_OPTIONS: JSON.stringify(options) }, [], /^READY producer$/);
}

async function spawnFixture(fixture: string, env: Record<string, string>, prefix: string[] = [], readyRe = /^READY /, stderrTail = 0): Promise<WorkerProcess> {
  const argv = [...prefix, process.execPath, '--import', 'tsx', fixture];
  const proc = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...env, TASK_SWARM_LOG: process.env.TASK_SWARM_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', stderrTail > 0 ? 'pipe' : 'inherit'],
  });
  const stderr: string[] = [];
  if (stderrTail > 0) keepTail(proc.stderr!, stderr, stderrTail);
  alive.add(proc);
  proc.on('exit', () => alive.delete(proc));
  const lines: string[] = [];
  const times: number[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  proc.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      lines.push(line);
      times.push(Date.now());
      for (const w of [...waiters]) {
        if (w.re.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const waitFor = (re: RegExp, timeoutMs = 15_000) =>
    new Promise<string>((resolve, reject) => {
      const found = lines.find((l) => re.test(l));
      if (found) return resolve(found);
      const t = setTimeout(() => reject(new Error(`child process: no line matching ${re} within ${timeoutMs} ms; got ${JSON.stringify(lines)}`)), timeoutMs);
      const onExit = (code: number | null) => reject(new Error(`child process exited (${code}) before printing ${re}; got ${JSON.stringify(lines)}`));
      proc.once('exit', onExit);
      waiters.push({
        re,
        resolve: (l) => {
          clearTimeout(t);
          proc.off('exit', onExit);
          resolve(l);
        },
      });
    });
  const ready = await waitFor(readyRe);
  return {
    proc,
    address: ready.slice('READY '.length),
    lines,
    times,
    stderr,
    waitFor,
    kill: (signal: NodeJS.Signals = 'SIGKILL') =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}
