/**
 * Chaos soak: N tasks through several worker and monitor processes while faults strike on a
 * seeded schedule (SIGKILL and SIGSTOP of workers, monitor crashes, Redis killed and restarted
 * with AOF, Redis frozen, a worker's Redis link gone silent or cut, a monitor's link cut once or
 * again and again, a worker's and a monitor's links cut together). The tasks are a seeded mix of what
 * users queue (test/chaos/mix.ts): plain ones, grouped ones under concurrency and rate limits
 * with priorities, delayed ones, ones that fail and are retried with a backoff, ones submitted
 * with a dedupe key, ones cancelled while queued or running, and a schedule's ticks. At the end
 * every task must have ended in Redis, none lost, each with the outcome its kind allows, and
 * none may have published a second `end` (its END is written once); none may have started before it was due, no limit may be left counting a task, no
 * schedule tick may have fired twice nor its task run to two ends (test/chaos/ticks.ts: the ticks
 * the monitors printed and those found in Redis), and no worker or monitor may have exited but
 * by the soak's own kill. Duplicate executions are counted.
 *
 *   npm run chaos -- [--seed N] [--duration s] [--tasks N] [--workers N]
 *
 * The seed is printed first, so a failing run can be replayed with --seed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Client } from '../../src/index.js';
import { partitionPrefix } from '../../src/partition-keys.js';
import { buildKeys, globEscape } from '../../src/keys.js';
import { resolveRedisConfig } from '../../src/config.js';
import { mixedTasks, SCHEDULE } from './mix.js';
import { tickIdsIn, unseenTicks } from './ticks.js';
import { startRedis } from '../helpers/redis-server.js';
import { keepTail, spawnWorker, type WorkerProcess } from '../helpers/processes.js';
import { startProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

// (checked before anything starts: an unknown option was parseArgs's TypeError with its stack, and
// `--seed abc` ran 150 s of faults with seed NaN, a run no seed replays, over NaN partitions)
const USAGE = 'usage: npm run chaos -- [--seed N] [--duration s] [--tasks N] [--workers N] [--partitions N]';
const refuse = (why: string): never => {
  process.stderr.write(`chaos: ${why}; ${USAGE}\n`);
  process.exit(2);
};
let values: Record<string, string | undefined> = {};
try {
  ({ values } = parseArgs({
    options: {
      seed: { type: 'string' },
      duration: { type: 'string', default: '150' },
      tasks: { type: 'string', default: '400' },
      workers: { type: 'string', default: '4' },
      partitions: { type: 'string' },
    },
  }));
} catch (e) {
  refuse((e as Error).message.split('\n')[0]!);
}
/** a whole number from `min` up, as typed */
const whole = (name: string, min: number, max = 2 ** 31 - 1): number | undefined => {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) refuse(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
};
const seed = whole('seed', 0) ?? Math.floor(Math.random() * 2 ** 31);
const duration = whole('duration', 1)! * 1000;
const taskCount = whole('tasks', 1)!;
const workerCount = whole('workers', 1)!;
// (one or two partitions, by the seed unless given: a replay runs the same swarm)
const partitions = whole('partitions', 1, 256) ?? 1 + (seed % 2);
console.log(`chaos: seed ${seed}, ${duration / 1000} s of faults, ${taskCount} tasks, ${workerCount} workers, 2 monitors, ${partitions} partition(s)`);

/** mulberry32: a tiny seeded PRNG, so a schedule can be replayed */
let state = seed >>> 0;
function rand(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (a: number, b: number) => Math.floor(a + rand() * (b - a));
const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const WORKER = { port: 0, concurrency: 4, heartbeatInterval: 200, pingTimeout: 300, abortTimeout: 500, fetchWorkerInterval: 1000, stopGrace: 1000 };
const MONITOR = { taskTimeout: 3000, checkTaskInterval: 1000, pingTimeout: 300, maxAttempts: 20 };

const server = await startRedis({ appendonly: true });
const o = server.options(partitions > 1 ? { keyPrefix: `{chaos-${process.pid}}:`, partitions } : {});
const prefixes = Array.from({ length: partitions }, (_, p) => partitionPrefix(o.keyPrefix, p, partitions));
const client = new Client({ redis: o });

// A child that exits when the soak did not kill it (an uncaught exception, say) fails the run:
// each kill the soak makes is noted first, and every other exit is told with its last stderr lines.
const STDERR_TAIL = 20;
const killedBySoak = new WeakSet<ChildProcess>();
const unexpectedExits: string[] = [];
function kill(p: ChildProcess | undefined, signal: NodeJS.Signals) {
  if (!p) return;
  killedBySoak.add(p);
  p.kill(signal);
}
function watchExit(name: string, p: ChildProcess, stderr: string[]) {
  p.once('exit', (code, signal) => {
    if (killedBySoak.has(p)) return;
    const exit = `${name} (pid ${p.pid}) exited ${signal ? `on ${signal}` : `with code ${code}`} at ${((Date.now() - t0) / 1000).toFixed(1)}s, not killed by the soak`;
    // (told once its stderr is read to the end: 'close')
    p.once('close', () => {
      unexpectedExits.push(`${exit}; its last stderr lines:\n${stderr.map((l) => `    | ${l}`).join('\n') || '    (none)'}`);
      console.log(`UNEXPECTED EXIT: ${unexpectedExits.at(-1)}`);
    });
  });
}
let t0 = Date.now();

// The ends of every task, as published on their channels, in every partition: one END per task,
// so a second is a task run to a second end (the schedule's tick tasks, in partition 0, are
// checked with the ticks). (Told on a connection of its own, straight to Redis, resubscribed
// after a restart: an end published while it is down is not seen, and a task counted as ending
// less often is not a wrong.)
const taskPrefixes = prefixes.map((p) => buildKeys({ ...resolveRedisConfig(o), keyPrefix: p }).taskKeyPrefix);
const tickIdHead = `schedule:${SCHEDULE}@`;
// (a tick's task lives in partition 0)
const tickKeys = { taskKeyPrefix: taskPrefixes[0]! };
const tickHead = `${tickKeys.taskKeyPrefix}${tickIdHead}`;
const tickEnds = new Map<string, number>();
const taskEnds = new Map<string, number>();
const endsSub = server.client();
endsSub.on('pmessage', (_pattern: string, channel: string, message: string) => {
  let event: unknown;
  try {
    event = (JSON.parse(message) as { event?: unknown }).event;
  } catch {
    return;
  }
  if (event !== 'end') return;
  const at = taskPrefixes.findIndex((tp) => channel.startsWith(tp));
  if (at < 0) return;
  const id = channel.slice(taskPrefixes[at]!.length, -'-events'.length);
  const ends = at === 0 && id.startsWith(tickIdHead) ? tickEnds : taskEnds;
  ends.set(id, (ends.get(id) ?? 0) + 1);
});
for (const tp of taskPrefixes) await endsSub.psubscribe(`${globEscape(tp)}*-events`);

interface Node {
  name: string;
  proxy: TcpProxy;
  proc?: WorkerProcess;
}
const everyProcess: WorkerProcess[] = [];
const nodes: Node[] = [];
// every other worker runs at concurrency 40: two claims on their way at once (lanes), under the same faults
const concurrencyOf = (n: Node) => (Number(n.name.slice(1)) % 2 === 1 ? 40 : WORKER.concurrency);
async function startWorker(n: Node) {
  n.proc = await spawnWorker({ ...WORKER, concurrency: concurrencyOf(n), redis: { ...o, host: '127.0.0.1', port: n.proxy.port } }, [], undefined, { stderrTail: STDERR_TAIL });
  watchExit(`worker ${n.name}`, n.proc.proc, n.proc.stderr);
  everyProcess.push(n.proc);
}
for (let i = 0; i < workerCount; i++) {
  const n: Node = { name: `w${i}`, proxy: await startProxy(server.host, server.port) };
  await startWorker(n);
  nodes.push(n);
}

const MONITOR_SCRIPT = fileURLToPath(new URL('../fixtures/monitor-process.ts', import.meta.url));
const monitors: (ChildProcess | undefined)[] = [undefined, undefined];
// (each monitor reaches Redis through a proxy of its own, which the faults cut)
const monitorProxies = [await startProxy(server.host, server.port), await startProxy(server.host, server.port)];
const requeues: string[] = [];
const scheduleLines: string[] = [];
function startMonitor(i: number): Promise<void> {
  const p = spawn(process.execPath, ['--import', 'tsx', MONITOR_SCRIPT], {
    env: { ...process.env, MONITOR_OPTIONS: JSON.stringify({ ...MONITOR, redis: { ...o, host: '127.0.0.1', port: monitorProxies[i]!.port } }), TASK_SWARM_LOG: 'error' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  monitors[i] = p;
  const stderr: string[] = [];
  keepTail(p.stderr!, stderr, STDERR_TAIL);
  watchExit(`monitor m${i}`, p, stderr);
  // (ends, READY or not: a monitor that exits first is told by watchExit, one that never says
  // READY is told here; either fails the verdict, where waiting on it hung the soak for good)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      unexpectedExits.push(`monitor m${i} (pid ${p.pid}) did not start within 20 s`);
      resolve();
    }, 20_000);
    p.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === 'READY') {
          clearTimeout(timer);
          resolve();
        }
        if (line.startsWith('REQUEUED ')) requeues.push(line.slice(9));
        if (line.startsWith('SCHEDULE ')) scheduleLines.push(line);
      }
    });
  });
}
await Promise.all([startMonitor(0), startMonitor(1)]);

// Producer: tasks arrive over the first two thirds of the run, a seeded mix of kinds.
const mix = mixedTasks(client, rand, between);
await mix.setUp();
const producing = (async () => {
  const gap = (duration * 0.66) / taskCount;
  for (let i = 0; i < taskCount; i++) {
    await mix.submitOne(`t${i}`);
    await sleep(gap * (0.5 + rand()));
  }
  await mix.tearDown();
})();

const faults: Record<string, number> = {};
const faultKinds: [string, () => Promise<void>][] = [
  ['worker SIGKILL', async () => {
    const n = pick(nodes);
    if (n.proc) killedBySoak.add(n.proc.proc);
    await n.proc?.kill('SIGKILL');
    await sleep(between(200, 2000));
    await startWorker(n);
  }],
  ['worker SIGSTOP', async () => {
    const n = pick(nodes);
    n.proc?.proc.kill('SIGSTOP');
    await sleep(between(500, 5000));
    n.proc?.proc.kill('SIGCONT');
  }],
  ['worker Redis link silent', async () => {
    const n = pick(nodes);
    n.proxy.partition();
    await sleep(between(500, 5000));
    n.proxy.heal();
  }],
  ['worker Redis link reset', async () => {
    const n = pick(nodes);
    n.proxy.reset();
    await sleep(between(200, 2000));
    n.proxy.heal();
  }],
  ['monitor Redis link reset', async () => {
    const p = pick(monitorProxies);
    p.reset();
    await sleep(between(100, 1500));
    p.heal();
  }],
  // (more often than taskTimeout, 3 s: a monitor once stayed in grace while it lasted)
  ['monitor Redis link flapping', async () => {
    const p = pick(monitorProxies);
    for (let k = between(4, 9); k > 0; k--) {
      p.reset();
      await sleep(between(20, 200));
      p.heal();
      await sleep(between(300, 900));
    }
  }],
  // (the worker back after the monitor: its tasks' leases were live when the monitor lost Redis)
  ['worker and monitor links reset together', async () => {
    const n = pick(nodes);
    const p = pick(monitorProxies);
    n.proxy.reset();
    p.reset();
    await sleep(between(500, 4500));
    p.heal();
    await sleep(between(0, 1500));
    n.proxy.heal();
  }],
  ['monitor SIGKILL', async () => {
    const i = between(0, 2);
    kill(monitors[i], 'SIGKILL');
    await sleep(between(200, 3000));
    await startMonitor(i);
  }],
  ['Redis SIGKILL + restart (AOF)', async () => {
    await server.kill('SIGKILL');
    await sleep(between(200, 1500));
    await server.start();
  }],
  ['Redis frozen (SIGSTOP)', async () => {
    server.freeze();
    await sleep(between(500, 4000));
    server.thaw();
  }],
];

t0 = Date.now();
while (Date.now() - t0 < duration) {
  await sleep(between(1000, 4000));
  const [name, run] = pick(faultKinds);
  faults[name] = (faults[name] ?? 0) + 1;
  process.stdout.write(`  ${((Date.now() - t0) / 1000).toFixed(1)}s ${name}\n`);
  // (a worker that does not start again within its time is a failure of the verdict, not a
  // throw that ended the soak with a stack and no summary)
  await run().catch((e: unknown) => {
    unexpectedExits.push(`fault "${name}" could not be undone: ${(e as Error)?.message ?? String(e)}`);
    console.log(`UNEXPECTED: ${unexpectedExits.at(-1)}`);
  });
}
await producing;
console.log(`faults: ${Object.entries(faults).map(([k, v]) => `${k} x${v}`).join(', ')}`);

// Settle: every task must end (the ones a schedule fired included: those a monitor printed, and
// those whose hashes are in Redis, a monitor killed between firing and printing leaving only that).
const tickKeysFound: string[] = [];
for (let cursor = '0'; ; ) {
  const [next, found] = await server.client().scan(cursor, 'MATCH', `${globEscape(tickHead)}*`, 'COUNT', 1000);
  tickKeysFound.push(...found);
  if ((cursor = next) === '0') break;
}
const ticksInRedis = tickIdsIn(tickKeysFound, tickKeys.taskKeyPrefix, SCHEDULE);
const ids = mix.ids(scheduleLines, ticksInRedis);
const deadline = Date.now() + 120_000;
let pending = ids;
while (pending.length && Date.now() < deadline) {
  const infos = await Promise.all(pending.map((id) => client.get(id).catch(() => null)));
  pending = pending.filter((_, i) => infos[i]?.state !== 'END');
  if (pending.length) {
    process.stdout.write(`  waiting for ${pending.length} task(s) to end\n`);
    await sleep(2000);
  }
}

const infos = await Promise.all(ids.map((id) => client.get(id)));
const starts = new Map<string, number>();
const runs = new Map<string, number>();
const firstStart = new Map<string, number>();
for (const p of everyProcess)
  p.lines.forEach((l, i) => {
    if (!l.startsWith('STARTED ')) return;
    const [, id, attempt] = l.split(' ') as [string, string, string];
    // (per attempt: a retry is a start of its own, not a duplicate)
    starts.set(`${id} ${attempt}`, (starts.get(`${id} ${attempt}`) ?? 0) + 1);
    runs.set(id, (runs.get(id) ?? 0) + 1);
    firstStart.set(id, Math.min(firstStart.get(id) ?? Infinity, p.times[i]!));
  });
const lost = ids.filter((_, i) => infos[i]?.state !== 'END');
const duplicates = [...starts.values()].reduce((a, n) => a + Math.max(0, n - 1), 0);
let queueLeft = 0;
const running: Record<string, string> = {};
for (const p of prefixes) {
  queueLeft += await server.client().llen(`${p}new-task`);
  for (const [target, n] of Object.entries(await server.client().hgetall(`${p}new-task:running`))) running[`${p} ${target}`] = n;
}
const wrong = mix.check(ids, infos, firstStart, { scheduleLines, name: SCHEDULE, inRedis: ticksInRedis, ends: tickEnds, runs }, running);
for (const [id, n] of taskEnds) if (n > 1) wrong.push(`${id} (${mix.kindOf(id)}) ran to ${n} ends`);
const unseen = unseenTicks(scheduleLines, SCHEDULE, ticksInRedis);

console.log(`tasks: ${ids.length} submitted (${mix.summary()}), ${ids.length - lost.length} ended, ${lost.length} lost, ${queueLeft} still queued`);
console.log(`executions: ${[...starts.values()].reduce((a, n) => a + n, 0)} starts, ${duplicates} duplicate executions (an attempt started twice), ${requeues.length} requeues`);
console.log(`schedule: ${ticksInRedis.length} tick task(s) in Redis (${unseen.length} whose firing no monitor printed${unseen.length ? `: ${unseen.slice(0, 5).join(', ')}` : ''}), ${[...tickEnds.values()].reduce((a, n) => a + n, 0)} tick end(s) seen`);
console.log(`ends: ${[...taskEnds.values()].reduce((a, n) => a + n, 0)} task end(s) seen, ${[...taskEnds.values()].filter((n) => n > 1).length} task(s) ended more than once`);
console.log(`processes: ${unexpectedExits.length} exit(s) the soak did not cause`);
for (const e of unexpectedExits) console.log(`unexpected exit: ${e}`);
for (const w of wrong.slice(0, 20)) console.log(`wrong: ${w}`);
if (lost.length) console.log(`lost: ${lost.slice(0, 20).map((id) => `${id} (${mix.kindOf(id)}: ${infos[ids.indexOf(id)]?.state})`).join(', ')}`);

for (const n of nodes) {
  if (n.proc) killedBySoak.add(n.proc.proc);
  await n.proc?.kill('SIGKILL');
  await n.proxy.close();
}
for (const m of monitors) kill(m, 'SIGKILL');
for (const p of monitorProxies) await p.close();
await endsSub.quit().catch(() => {});
await client.close();
await server.stop();

const ok = lost.length === 0 && wrong.length === 0 && unexpectedExits.length === 0;
console.log(`${ok ? 1 : 0} passed, ${ok ? 0 : 1} failed (chaos seed ${seed})`);
process.exit(ok ? 0 : 1);
