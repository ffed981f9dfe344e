/**
 * Task Swarm demo: `npm run demo`.
 *
 * Starts a private redis-server (unless REDIS_URL is set), three workers as child processes
 * (examples/demo-worker.ts), one monitor, one client and the dashboard in this process, each
 * worker and the monitor serving Prometheus metrics; submits 24 `render` tasks and one long
 * one (`stop-me`), shows their progress live, SIGKILLs one worker while it runs tasks, shows the
 * monitor requeueing them and another worker running them again (attempt 2), waits for every
 * task, stops `stop-me` through the dashboard's API (as its Stop button does), scrapes the
 * metrics, prints `task-swarm status` beside them and a summary. Exit status 0 when every
 * render succeeded and `stop-me` ended stopped, 1 otherwise.
 *
 * `npm run demo -- --keep` is the same run for a person at the dashboard: on a terminal it waits
 * for Enter before submitting (time to open the page), leaves `stop-me` running until someone
 * presses Stop in the page, and keeps everything up after the summary until Ctrl-C.
 *
 * Everything it starts is stopped again, also on Ctrl-C.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, spawnRedis } from '../tools/redis-process.js';
import { Client, Monitor, createDashboard, type Dashboard, type LoggerLike, type TaskEvent, type TaskInfo } from '../src/index.js';
import { main as cli } from '../src/cli.js';
import { pingOnce } from '../src/redis.js';
import { within } from '../src/within.js';
import { CONCURRENCY, HEARTBEAT_MS } from './demo-settings.js';

// ---------------------------------------------------------------- settings

const WORKERS = 3;
// each worker's CONCURRENCY and HEARTBEAT_MS: examples/demo-settings.ts (demo-worker.ts's defaults)
const TASKS = 24;
const TASK_TIMEOUT_MS = 3000;
const CHECK_TASK_INTERVAL_MS = 1000;
/** the worker that gets SIGKILLed */
const VICTIM = 'w2';
/** no task may take longer than this from submission to its end */
const WAIT_TIMEOUT_MS = 45_000;
/** the task to stop from the dashboard: it would run 10 minutes */
const STOP_ME = 'stop-me';
const STOP_ME_MS = 600_000;
/** the dashboard's port when free (DEMO_DASHBOARD_PORT sets another; any free one otherwise) */
const DASHBOARD_PORT = Number(process.env.DEMO_DASHBOARD_PORT ?? 8080);
const USAGE = 'usage: npm run demo [-- --keep]   (--keep: wait for Enter before submitting, leave stop-me running until Stop is pressed in the page, keep everything up until Ctrl-C)';
// (what the demo takes, checked before it starts anything: `--keeep`, or `--help`, ran the whole
// demo, the option ignored and nothing said)
for (const arg of process.argv.slice(2)) {
  if (arg === '--help' || arg === '-h') {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  if (arg !== '--keep') {
    process.stderr.write(`demo: unknown argument ${JSON.stringify(arg)}; ${USAGE}\n`);
    process.exit(2);
  }
}
const KEEP = process.argv.includes('--keep') || process.env.DEMO_KEEP === '1';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const startedAt = Date.now();
const elapsed = () => ((Date.now() - startedAt) / 1000).toFixed(1);

// ---------------------------------------------------------------- terminal output

const tty = process.stdout.isTTY === true;
const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const red = paint('31');
const green = paint('32');
const yellow = paint('33');
const cyan = paint('36');

type RowState = 'queued' | 'running' | 'requeued' | 'done' | 'failed';
interface Row {
  id: string;
  frame: number;
  ms: number;
  state: RowState;
  pct: number;
  /** worker name running it now (or that ran it) */
  worker?: string;
  attempt: number;
  /** workers that ran it and died */
  lostOn: string[];
  info?: TaskInfo;
}

interface WorkerProc {
  name: string;
  port: number;
  metricsPort: number;
  address: string;
  child: ChildProcess;
  killed: boolean;
  exited: boolean;
  exit: Promise<void>;
}

const rows: Row[] = [];
const workers: WorkerProc[] = [];
const workerName = (address: string | undefined) => workers.find((w) => w.address === address)?.name ?? address ?? '?';

class Ui {
  private drawn = 0;
  private timer?: NodeJS.Timeout;
  private lastStatus = 0;
  board = false;

  start(): void {
    if (tty) {
      this.board = true;
      process.stdout.write('\x1b[?25l'); // hide the cursor while the board is redrawn
      this.timer = setInterval(() => this.draw(), 100);
    } else {
      this.timer = setInterval(() => this.status(), 250);
    }
  }

  /** A line of its own: above the board on a TTY, plain otherwise. */
  log(line: string): void {
    if (this.board) {
      this.erase();
      process.stdout.write(`${dim(`[${elapsed().padStart(5)}s]`)} ${line}\n`);
      this.draw();
    } else {
      process.stdout.write(`[${elapsed().padStart(5)}s] ${line}\n`);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    if (this.board) {
      this.draw();
      this.board = false;
      process.stdout.write('\x1b[?25h');
    }
  }

  private erase(): void {
    if (this.drawn > 0) process.stdout.write(`\x1b[${this.drawn}A\x1b[0J`);
    this.drawn = 0;
  }

  private draw(): void {
    if (!this.board) return;
    const lines = boardLines();
    this.erase();
    process.stdout.write(lines.join('\n') + '\n');
    // rows on screen, counting lines the terminal wrapped, so the next erase goes far enough up
    const width = process.stdout.columns || 80;
    this.drawn = lines.reduce((n, l) => n + Math.max(1, Math.ceil(visible(l) / width)), 0);
  }

  /** Non-TTY: one plain status line every 2 s. */
  private status(): void {
    if (Date.now() - this.lastStatus < 2000) return;
    this.lastStatus = Date.now();
    process.stdout.write(`[${elapsed().padStart(5)}s] ${counts()}\n`);
  }
}
const ui = new Ui();

function tally(): Record<RowState, number> {
  const c: Record<RowState, number> = { queued: 0, running: 0, requeued: 0, done: 0, failed: 0 };
  for (const r of rows) c[r.state]++;
  return c;
}

function counts(): string {
  const c = tally();
  const per = workers
    .map((w) => {
      if (w.killed) return `${w.name} killed`;
      return `${w.name} ${rows.filter((r) => r.state === 'running' && r.worker === w.name).length}`;
    })
    .join(', ');
  const requeued = rows.filter((r) => r.lostOn.length > 0).length;
  return `done ${c.done}/${rows.length}, running ${c.running} (${per}), queued ${c.queued + c.requeued}, requeued so far ${requeued}${c.failed ? `, FAILED ${c.failed}` : ''}`;
}

function bar(pct: number, width: number): string {
  const full = Math.round((pct / 100) * width);
  return '█'.repeat(full) + '░'.repeat(width - full);
}

const CELL_WIDTH = 25;
// eslint-disable-next-line no-control-regex -- strips the ANSI colour codes this file writes
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;
const visible = (s: string) => s.replace(ANSI, '').length;

function cell(r: Row): string {
  const s = cellText(r);
  return s + ' '.repeat(Math.max(0, CELL_WIDTH - visible(s)));
}

function cellText(r: Row): string {
  const id = `#${String(r.frame).padStart(2, '0')}`;
  const who = (r.worker ?? '··').padEnd(2);
  const again = r.attempt > 1 ? yellow(` a${r.attempt}`) : '';
  switch (r.state) {
    case 'queued':
      return `${id} ${dim('··')} ${dim(bar(0, 10))} ${dim('queued')}`;
    case 'requeued':
      return `${id} ${yellow(r.lostOn.at(-1) ?? '??')} ${yellow('✖ lost, requeued')}`;
    case 'running':
      if (workers.find((w) => w.name === r.worker)?.killed) return `${id} ${red(who)} ${red(bar(r.pct, 10))} ${red('stalled')}`;
      return `${id} ${cyan(who)} ${cyan(bar(r.pct, 10))} ${String(r.pct).padStart(3)}%${again}`;
    case 'done':
      return `${id} ${green(who)} ${green(bar(100, 10))} ${green('done')}${again}`;
    case 'failed':
      return `${id} ${red(who)} ${red(bar(r.pct, 10))} ${red('FAIL')}${again}`;
  }
}

function boardLines(): string[] {
  const c = tally();
  const columns = Math.max(1, Math.min(4, Math.floor(((process.stdout.columns || 80) + 2) / (CELL_WIDTH + 2))));
  const lines = [
    `${bold('Task Swarm demo')}  ${elapsed().padStart(5)} s   done ${green(`${c.done}/${rows.length}`)}   running ${cyan(String(c.running))}   queued ${c.queued + c.requeued}` +
      (c.failed ? `   ${red(`failed ${c.failed}`)}` : ''),
    'workers: ' +
      workers
        .map((w) => {
          const n = rows.filter((r) => r.state === 'running' && r.worker === w.name).length;
          return w.killed ? `${red(`${w.name} ✖ killed`)}` : `${green(`${w.name} ●`)} ${n} running`;
        })
        .join('   '),
  ];
  for (let i = 0; i < rows.length; i += columns) {
    lines.push(
      rows
        .slice(i, i + columns)
        .map((r) => cell(r))
        .join('  '),
    );
  }
  return lines;
}

// ---------------------------------------------------------------- processes

function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

let redisProc: ChildProcess | undefined;
let redisDir: string | undefined;

async function startRedis(): Promise<string> {
  const port = await freePort();
  redisDir = mkdtempSync(join(tmpdir(), 'task-swarm-demo-'));
  // Its own process group: a Ctrl-C in the terminal reaches the demo and the workers, not
  // Redis, which stays up until the workers have stopped (cleanup kills it last).
  redisProc = await spawnRedis({ port, dir: redisDir, detached: true });
  return `redis://127.0.0.1:${port}`;
}

function startWorker(name: string, port: number, metricsPort: number, url: string, keyPrefix: string): WorkerProc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo-worker.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      REDIS_URL: url,
      DEMO_KEY_PREFIX: keyPrefix,
      DEMO_WORKER_NAME: name,
      DEMO_WORKER_PORT: String(port),
      DEMO_METRICS_PORT: String(metricsPort),
      DEMO_CONCURRENCY: String(CONCURRENCY),
      DEMO_HEARTBEAT: String(HEARTBEAT_MS),
      DEMO_PARENT_PIPE: '1',
      TASK_SWARM_LOG: process.env.DEMO_WORKER_LOG ?? 'warn',
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const w: WorkerProc = { name, port, metricsPort, address: `127.0.0.1:${port}`, child, killed: false, exited: false, exit: exitOf(child) };
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (line.trim()) ui.log(dim(`[${name}] ${tty ? line : line.replace(ANSI, '')}`));
    });
  }
  child.on('exit', (code, signal) => {
    w.exited = true;
    if (!w.killed && !cleaningUp) ui.log(red(`worker ${name} exited unexpectedly (${signal ?? `code ${code}`})`));
  });
  return w;
}

// ---------------------------------------------------------------- cleanup

let cleaningUp = false;
let monitor: Monitor | undefined;
let client: Client | undefined;
let dashboard: Dashboard | undefined;
let external: { url: string; keyPrefix: string } | undefined;

async function cleanup(): Promise<void> {
  if (cleaningUp) return;
  cleaningUp = true;
  ui.stop();
  // Workers first (SIGTERM: each awaits worker.stop() and exits 0), then monitor and client.
  for (const w of workers) if (alive(w.child)) w.child.kill('SIGTERM');
  for (const w of workers) {
    if ((await within(8000, w.exit.then(() => true))) === undefined) {
      process.stdout.write(`worker ${w.name} did not stop within 8 s: SIGKILL\n`);
      w.child.kill('SIGKILL');
      await within(2000, w.exit);
    }
  }
  // (cleanup must not hang: each wait is bounded, and a failure in it is let go)
  if (dashboard) await within(3000, dashboard.close());
  if (monitor) await within(3000, monitor.stop());
  if (external) await within(3000, deleteDemoKeys(external.url, external.keyPrefix));
  if (client) await within(2000, client.close());
  if (redisProc && alive(redisProc)) {
    const p = redisProc;
    p.kill('SIGTERM');
    if ((await within(3000, exitOf(p).then(() => true))) === undefined) p.kill('SIGKILL');
  }
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
  redisDir = undefined;
}

/** With a shared Redis (REDIS_URL), leave nothing behind: drop every key of this run's prefix. */
async function deleteDemoKeys(url: string, keyPrefix: string): Promise<void> {
  const r = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  r.on('error', () => {});
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length) await r.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

// Last resort when the process exits any other way: no child or temp dir outlives the demo.
process.on('exit', () => {
  if (tty) process.stdout.write('\x1b[?25h');
  for (const w of workers) if (alive(w.child)) w.child.kill('SIGKILL');
  if (redisProc && alive(redisProc)) redisProc.kill('SIGKILL');
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130); // second Ctrl-C: the exit handler kills what is left
    interrupted = true;
    ui.log(yellow(`${sig}: stopping workers, monitor and redis-server…`));
    void cleanup().finally(() => process.exit(130));
  });
}
// `npm run demo | head`: the reader went away. Clean up as for Ctrl-C, silently.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE' || interrupted) return;
  interrupted = true;
  void cleanup().finally(() => process.exit(1));
});

// ---------------------------------------------------------------- the demo

async function main(): Promise<number> {
  let url = process.env.REDIS_URL;
  let keyPrefix = '';
  if (url) {
    try {
      await pingOnce(url, { timeoutMs: 2000 });
    } catch (e) {
      process.stderr.write(`cannot reach Redis at ${url.replace(/\/\/[^@/]*@/, '//***@')} (REDIS_URL): ${(e as Error).message}\n`);
      return 1;
    }
    // A shared Redis: keep this run's keys apart, and delete them at the end.
    keyPrefix = `task-swarm-demo-${process.pid}-${Date.now().toString(36)}:`;
    external = { url, keyPrefix };
  } else {
    if (!onPath('redis-server')) {
      process.stderr.write(
        'redis-server not found: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) or set REDIS_URL=redis://host:port\n',
      );
      return 1;
    }
    url = await startRedis();
  }
  const redis = { url, keyPrefix };

  console.log(bold('Task Swarm demo'));
  console.log(`redis:   ${url}${external ? ` (REDIS_URL, key prefix ${keyPrefix})` : ` (private redis-server, pid ${redisProc?.pid})`}`);
  console.log(`workers: ${WORKERS} processes × ${CONCURRENCY} slots, heartbeat every ${HEARTBEAT_MS} ms`);
  console.log(`monitor: in this process, taskTimeout ${TASK_TIMEOUT_MS} ms, sweeps at least every ${CHECK_TASK_INTERVAL_MS} ms`);

  client = new Client({ redis });
  const quiet: LoggerLike = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (...args: unknown[]) => ui.log(red(`monitor: ${args.map(String).join(' ')}`)),
  };
  monitor = new Monitor({ redis, taskTimeout: TASK_TIMEOUT_MS, checkTaskInterval: CHECK_TASK_INTERVAL_MS, logger: quiet, metricsPort: 0 });

  // Workers: separate processes, each with its own peer-ping port and metrics port.
  for (let i = 1; i <= WORKERS; i++) workers.push(startWorker(`w${i}`, await freePort(), await freePort(), url, keyPrefix));
  await monitor.start();
  const readyBy = Date.now() + 30_000;
  const starts = new Map<string, number>();
  for (;;) {
    // (Ctrl-C while they start: the workers exit with the same signal; that is no failed start)
    if (interrupted) return 130;
    const dead = workers.find((w) => w.exited);
    if (dead) {
      // A port found free may be taken by another process before the worker listens on it:
      // started again on new ones (a worker that fails for another reason fails again).
      const n = (starts.get(dead.name) ?? 1) + 1;
      if (n > 3) throw new Error(`worker ${dead.name} exited before it was ready`);
      starts.set(dead.name, n);
      ui.log(`starting ${dead.name} again, on new ports`);
      workers[workers.indexOf(dead)] = startWorker(dead.name, await freePort(), await freePort(), url, keyPrefix);
      continue;
    }
    if ((await client.stats()).workers >= WORKERS) break;
    if (Date.now() > readyBy) throw new Error('workers did not register within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(`ready:   ${workers.map((w) => `${w.name} pid ${w.child.pid}`).join(', ')}`);

  // The dashboard, with a token in the link: the page keeps it (the part after # never reaches
  // a server) and its buttons can then act.
  const token = randomBytes(16).toString('hex');
  dashboard = createDashboard({ redis, token, refreshInterval: 500 });
  const dashboardUrl = await listenDashboard(dashboard);
  console.log(`${bold('dashboard:')} ${dashboardUrl}#token=${token}`);
  console.log(`metrics: ${workers.map((w) => `${w.name} http://127.0.0.1:${w.metricsPort}/metrics`).join(', ')}, monitor ${monitor.metricsUrl}`);
  if (KEEP && process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    await new Promise<void>((resolve) => rl.question('open the dashboard, then press Enter to submit the tasks ', () => resolve()));
    rl.close();
  }

  monitor.on('sweep', (r: { requeued: string[]; parked: string[] }) => {
    if (r.requeued.length) ui.log(yellow(`↻ monitor "sweep" event: requeued ${r.requeued.join(', ')}`));
    if (r.parked.length) ui.log(red(`monitor sweep: parked ${r.parked.join(', ')} (maxAttempts reached)`));
  });

  // The tasks: ids chosen here, so their events are followed before they are even queued.
  for (let frame = 1; frame <= TASKS; frame++) {
    rows.push({ id: `render-${String(frame).padStart(2, '0')}`, frame, ms: 2000 + ((frame * 733) % 2001), state: 'queued', pct: 0, attempt: 0, lostOn: [] });
  }
  for (const row of rows) {
    client.subscribe(row.id, (ev: TaskEvent) => onEvent(row, ev));
  }
  ui.start();
  ui.log(`submitting ${TASKS} render tasks (2–4 s each, progress events every ~250 ms)`);
  for (const row of rows) await client.submit('render', { frame: row.frame, ms: row.ms }, { id: row.id });
  const submittedAt = Date.now();
  // One more, that would render for 10 minutes: it is stopped from the dashboard.
  client.subscribe(STOP_ME, (ev: TaskEvent) => {
    if (ev.event === 'requeued') ui.log(yellow(`↻ ${STOP_ME} "requeued" event: it was on ${workerName((ev.data as { worker?: string }).worker)}`));
  });
  await client.submit('render', { frame: 0, ms: STOP_ME_MS }, { id: STOP_ME });
  const stopMeEnded = client.wait(STOP_ME);
  ui.log(`submitted ${STOP_ME}, a 10-minute render${KEEP ? `: press Stop on it in the dashboard (tasks, running) to end it` : ', stopped from the dashboard once the others are done'}`);

  // Watch the hashes (who runs what, which attempt) and pick the moment to kill a worker.
  const victim = workers.find((w) => w.name === VICTIM)!;
  let killedAt = 0;
  let killedTasks: string[] = [];
  let watching = true;
  const watch = (async () => {
    while (watching) {
      await Promise.all(rows.filter((r) => r.state !== 'done' && r.state !== 'failed').map((r) => poll(r)));
      const onVictim = rows.filter((r) => r.state === 'running' && r.worker === victim.name);
      // Mid-run: the victim's tasks have made some progress, none has finished yet.
      const t = Date.now() - submittedAt;
      if (!killedAt && onVictim.length > 0 && ((t > 1200 && onVictim.length >= Math.min(3, CONCURRENCY)) || t > 3000)) {
        killedAt = Date.now();
        killedTasks = onVictim.map((r) => r.id);
        victim.killed = true;
        victim.child.kill('SIGKILL');
        ui.log(red(`✖ SIGKILL ${victim.name} (pid ${victim.child.pid}) while it runs ${killedTasks.join(', ')}`));
        ui.log(`  the monitor requeues them once ${TASK_TIMEOUT_MS} ms pass without a heartbeat`);
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  })();

  const results = await Promise.allSettled(
    rows.map(async (row) => {
      const info = await client!.wait(row.id, { timeout: WAIT_TIMEOUT_MS });
      row.info = info;
      row.worker = workerName(info.worker) === '?' ? row.worker : workerName(info.worker);
      row.attempt = info.attempt || row.attempt;
      if (info.outcome === 'succeeded') {
        row.state = 'done';
        row.pct = 100;
      } else {
        row.state = 'failed';
        ui.log(red(`${row.id} ended ${info.outcome}: ${info.error?.message ?? ''}`));
      }
      if (!ui.board || row.attempt > 1) {
        const took = info.start && info.end ? ` in ${((info.end - info.start) / 1000).toFixed(1)} s` : '';
        ui.log(`${row.state === 'done' ? green('✔') : red('✖')} ${row.id} ${info.outcome} on ${row.worker ?? '?'} (attempt ${row.attempt}${took})`);
      }
      return info;
    }),
  );
  const finishedAt = Date.now();
  // ------------------------------------------------------------ stop, from the dashboard
  if (!KEEP) {
    // what the page's Stop button sends
    const res = await fetch(`${dashboardUrl}api/task/${STOP_ME}/control`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-task-swarm': '1', 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'stop' }),
    });
    ui.log(`■ stop ${STOP_ME} through the dashboard: POST ${dashboardUrl}api/task/${STOP_ME}/control {"message":"stop"} -> ${res.status}`);
  }
  const stopMe = await (KEEP ? stopMeEnded : within(15_000, stopMeEnded));
  if (stopMe) ui.log(`${stopMe.outcome === 'stopped' ? green('■') : red('✖')} ${STOP_ME} ended ${stopMe.outcome} on ${workerName(stopMe.worker)}`);
  watching = false;
  await watch;
  ui.stop();
  const wall = (Date.now() - startedAt) / 1000;

  // ------------------------------------------------------------ summary
  const lost = results.flatMap((r, i) => (r.status === 'rejected' ? [`${rows[i]!.id} (${(r.reason as Error).message})`] : []));
  const failed = rows.filter((r) => r.state === 'failed');
  const ok = rows.filter((r) => r.state === 'done');
  // (a task's history ends with the attempt that ended it: the ones before it were lost)
  const lostAttempts = (r: Row) => r.info?.history?.slice(0, -1) ?? [];
  const requeued = rows.filter((r) => r.lostOn.length > 0 || lostAttempts(r).length > 0);
  console.log('');
  console.log(bold('Summary'));
  console.log(`  tasks succeeded: ${ok.length}/${rows.length}${failed.length ? red(`, failed: ${failed.length}`) : ''}${lost.length ? red(`, lost: ${lost.length}`) : ''}`);
  if (killedAt) {
    console.log(`  killed: ${victim.name} with SIGKILL at ${((killedAt - startedAt) / 1000).toFixed(1)} s while it ran ${killedTasks.length} task(s)`);
  } else {
    console.log(yellow(`  killed: none (${victim.name} never ran a task)`));
  }
  if (requeued.length) {
    console.log(`  requeued by the monitor: ${requeued.length}`);
    for (const r of requeued) {
      const from = lostAttempts(r).map((h) => `${workerName(h.worker)} (attempt ${h.attempt}, ${h.reason})`).join(', ') || r.lostOn.join(', ');
      console.log(`    ${r.id}: lost on ${from}; attempt ${r.attempt} ran on ${r.worker ?? '?'}`);
    }
  } else {
    console.log('  requeued by the monitor: none');
  }
  console.log('  ran on:');
  for (const w of workers) {
    const mine = ok.filter((r) => r.worker === w.name);
    const label = w.killed ? `${w.name} (killed)` : w.name;
    console.log(`    ${label.padEnd(12)} ${String(mine.length).padStart(2)} task(s)${mine.length ? `: ${mine.map((r) => `#${String(r.frame).padStart(2, '0')}${r.attempt > 1 ? `(a${r.attempt})` : ''}`).join(' ')}` : ''}`);
  }
  const busy = rows.reduce((s, r) => s + r.ms, 0) / 1000;
  console.log(`  wall time: ${wall.toFixed(1)} s (${((finishedAt - submittedAt) / 1000).toFixed(1)} s from submit to the last end)`);
  console.log(`  work done: ${busy.toFixed(1)} s of rendering in ${rows.length} tasks, plus the lost attempts`);
  console.log(`  ${STOP_ME}: ${stopMe ? `ended ${stopMe.outcome}` : red('did not end within 15 s of its stop')}`);
  for (const l of lost) console.log(red(`  LOST: ${l}`));
  for (const f of failed) console.log(red(`  FAILED: ${f.id}: ${f.info?.error?.message ?? f.info?.outcome}`));
  await showFacts(url!, keyPrefix);
  const success = lost.length === 0 && failed.length === 0 && ok.length === rows.length && stopMe?.outcome === 'stopped';
  console.log(success ? green('result: every task succeeded, none lost, stop-me stopped') : red('result: FAILED'));
  if (KEEP) {
    console.log(`\neverything stays up: the dashboard at ${dashboardUrl}, metrics as above, Redis at ${url}. Ctrl-C stops it all.`);
    await new Promise(() => {});
  }
  return success ? 0 : 1;
}

/** The dashboard on DASHBOARD_PORT when it is free, on any free port otherwise. */
async function listenDashboard(d: Dashboard): Promise<string> {
  try {
    return await d.listen(DASHBOARD_PORT);
  } catch {
    return d.listen(await freePort());
  }
}

/** The same facts twice: the monitor's /metrics (read from Redis at the scrape) and `task-swarm status`. */
async function showFacts(url: string, keyPrefix: string): Promise<void> {
  console.log('');
  console.log(bold(`Metrics`) + dim(`   curl -s ${monitor!.metricsUrl}  (the monitor's; and each worker's)`));
  const scrape = async (at: string) => (await fetch(at)).text();
  const monitorText = await scrape(monitor!.metricsUrl!);
  for (const line of monitorText.split('\n')) {
    if (/^task_swarm_(queue_entries|tasks_claimed|workers|dead_letters|ended_manual|monitor_tasks_requeued_total) /.test(line)) console.log(`  ${line}`);
  }
  const ended = new Map<string, number>();
  for (const w of workers.filter((x) => !x.killed)) {
    const text = await scrape(`http://127.0.0.1:${w.metricsPort}/metrics`).catch(() => '');
    for (const m of text.matchAll(/^task_swarm_worker_tasks_ended_total\{[^}]*outcome="(\w+)"[^}]*\} (\d+)/gm)) ended.set(m[1]!, (ended.get(m[1]!) ?? 0) + Number(m[2]));
  }
  const living = workers.filter((x) => !x.killed).map((w) => w.name).join(' + ');
  console.log(`  task_swarm_worker_tasks_ended_total, ${living}: ${[...ended].map(([o, n]) => `${o} ${n}`).join(', ')}`);
  const args = ['status', ...(keyPrefix ? ['--key-prefix', keyPrefix] : [])];
  console.log(bold('task-swarm status') + dim(`   node --import tsx src/cli.ts ${args.join(' ')} --redis-url ${url.replace(/\/\/[^@/]*@/, '//***@')}`));
  let out = '';
  const sink = { write: (s: string) => ((out += s), true) };
  await cli([...args, '--redis-url', url], { stdout: sink, stderr: sink, env: {} });
  for (const line of out.trimEnd().split('\n')) console.log(`  ${line}`);
}

/** Live updates from the task's events: progress, requeue. (The end comes through client.wait.) */
function onEvent(row: Row, ev: TaskEvent): void {
  if (row.state === 'done' || row.state === 'failed') return;
  if (ev.event === 'progress') {
    const pct = (ev.data as { pct?: number } | null)?.pct;
    if (typeof pct === 'number') row.pct = pct;
    if (row.state !== 'running') row.state = 'running';
  } else if (ev.event === 'requeued') {
    const d = ev.data as { worker?: string; attempt?: number; reason?: string };
    if (d.reason === 'worker stopping') {
      // a graceful stop (Ctrl-C) handed it back: not a loss
      row.state = 'queued';
      row.pct = 0;
      ui.log(yellow(`↻ ${row.id} "requeued" event: handed back to the queue by a stopping worker`));
      return;
    }
    const from = workerName(d.worker || undefined);
    row.lostOn.push(from);
    row.state = 'requeued';
    row.pct = 0;
    ui.log(yellow(`↻ ${row.id} "requeued" event: attempt ${d.attempt ?? '?'} on ${from} (${d.reason ?? 'heartbeat timeout'})`));
  }
}

/** Who runs the task now, and which attempt: from its hash. */
async function poll(row: Row): Promise<void> {
  let info: TaskInfo | null;
  try {
    info = await client!.get(row.id);
  } catch {
    return;
  }
  if (!info || row.state === 'done' || row.state === 'failed') return;
  if (info.state === 'QUEUED' && row.lostOn.length > 0) row.state = 'requeued';
  if (info.state === 'RUNNING') {
    const name = workerName(info.worker);
    // a read from before the requeue, answered after its event: stale
    if (row.lostOn.includes(name) && workers.find((w) => w.name === name)?.killed) return;
    if (info.attempt > 1 && info.attempt !== row.attempt) {
      ui.log(cyan(`▶ ${row.id} running again on ${name}: attempt ${info.attempt}`));
    }
    if (row.state !== 'running' || row.worker !== name || row.attempt !== info.attempt) {
      if (row.attempt !== info.attempt) row.pct = 0;
      row.state = 'running';
      row.worker = name;
      row.attempt = info.attempt;
    }
  }
}

let code = 1;
try {
  code = await main();
} catch (e) {
  ui.stop();
  if (!interrupted) process.stderr.write(`demo failed: ${(e as Error).message}\n`);
  code = 1;
}
if (!interrupted) {
  await cleanup();
  process.exit(code);
}
