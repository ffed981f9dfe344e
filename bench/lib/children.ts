/**
 * Worker child processes (bench/worker-child.ts) forked with IPC, and waiting for their messages.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { PIN, pin } from './pin.js';
import { fileURLToPath } from 'node:url';
import type { LibName } from './libs.js';
import type { WorkerSpec } from './workers.js';

const CHILD = fileURLToPath(new URL('../worker-child.ts', import.meta.url));

export interface ChildMsg {
  type: 'loaded' | 'ready' | 'stopped' | 'started' | 'cpu' | 'error';
  /** cpu: process.cpuUsage() user + system, µs */
  us?: number;
  id?: string;
  attempt?: number;
  /** hrtime ns as string */
  t?: string;
  goAt?: string;
  readyAt?: string;
  at?: string;
  message?: string;
}

/** every live worker child, so that a scenario that overran its time limit can be stopped */
const live = new Set<WorkerChild>();

export function killLiveChildren(): number {
  const n = live.size;
  for (const k of [...live]) k.kill();
  return n;
}

export class WorkerChild {
  readonly proc: ChildProcess;
  private readonly listeners = new Set<(m: ChildMsg) => void>();
  exited = false;
  stderr = '';

  constructor(
    readonly lib: LibName,
    extraExecArgv: string[] = [],
  ) {
    this.proc = fork(CHILD, [lib], {
      execArgv: ['--import', 'tsx', ...extraExecArgv],
      env: { ...process.env, TASK_SWARM_LOG: 'silent' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.proc.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.proc.on('message', (m: ChildMsg) => {
      for (const l of [...this.listeners]) l(m);
    });
    pin(this.proc.pid, PIN.workers);
    live.add(this);
    this.proc.on('exit', () => {
      this.exited = true;
      live.delete(this);
      for (const l of [...this.listeners]) l({ type: 'error', message: `worker child exited${this.stderr ? `: ${this.stderr}` : ''}` });
    });
  }

  on(l: (m: ChildMsg) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** resolve with the first message matching `pred`; reject on an error message or timeout */
  next(pred: (m: ChildMsg) => boolean, timeoutMs: number, what: string): Promise<ChildMsg> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.lib} worker child: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const off = this.on((m) => {
        if (m.type === 'error') {
          clearTimeout(timer);
          off();
          reject(new Error(`${this.lib} worker child: ${m.message}`));
        } else if (pred(m)) {
          clearTimeout(timer);
          off();
          resolve(m);
        }
      });
    });
  }

  loaded(timeoutMs = 30_000): Promise<ChildMsg> {
    return this.next((m) => m.type === 'loaded', timeoutMs, 'loaded');
  }

  async start(spec: WorkerSpec, timeoutMs = 15_000): Promise<ChildMsg> {
    const ready = this.next((m) => m.type === 'ready', timeoutMs, 'ready');
    this.proc.send({ cmd: 'start', spec });
    return ready;
  }

  /** CPU time this process has used so far (user + system), µs */
  async cpu(timeoutMs = 5_000): Promise<number> {
    const m = this.next((x) => x.type === 'cpu', timeoutMs, 'cpu');
    this.proc.send({ cmd: 'cpu' });
    return (await m).us ?? 0;
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.exited) return;
    const stopped = this.next((m) => m.type === 'stopped', timeoutMs, 'stopped');
    this.proc.send({ cmd: 'stop' });
    await stopped;
  }

  /** exit cleanly (writes a --cpu-prof profile); SIGKILL if it does not within timeoutMs */
  async exit(timeoutMs = 10_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.send({ cmd: 'exit' });
    const t = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await gone;
    clearTimeout(t);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.proc.kill(signal);
  }
}

export async function spawnChildren(lib: LibName, n: number, extraExecArgv: string[] = []): Promise<WorkerChild[]> {
  const kids = Array.from({ length: n }, () => new WorkerChild(lib, extraExecArgv));
  try {
    await Promise.all(kids.map((k) => k.loaded()));
  } catch (e) {
    for (const k of kids) k.kill();
    throw e;
  }
  return kids;
}

export function killAll(kids: WorkerChild[]): void {
  for (const k of kids) k.kill();
}
