/**
 * `worker` and `monitor`: run a component of the swarm until SIGINT/SIGTERM. Their per-option
 * flags come from the config schema (WORKER_FIELDS, MONITOR_FIELDS).
 */
import { catchStrayErrors } from '../stray-errors.js';
import { MONITOR_FIELDS, WORKER_FIELDS } from '../../config.js';
import { Monitor, type MonitorOptions } from '../../monitor.js';
import { Worker, type WorkerOptions } from '../../worker.js';
import type { CommandSpec, Invocation } from '../command-spec.js';
import { UsageError, withListenFlag } from '../errors.js';
import { loadFunctions } from '../functions-module.js';
import { PROG, whenReaderGone, type CliIO } from '../io.js';
import { choiceOption, fieldOptions, fieldValues, repeatableOption } from '../options.js';
import { checkRedis } from '../redis-session.js';
import { PEER_SECRET, secretOf, secretOptions } from '../secrets.js';

const LOG_LEVELS = ['silly', 'trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

const logOption = () => choiceOption('--log <level>', 'log level (default info)', LOG_LEVELS, true).env('TASK_SWARM_LOG');

/** Where the peer secret comes from, in the help of the commands that take one. */
export const PEER_SECRET_HELP = `Give the peer secret with env ${PEER_SECRET.env} or ${PEER_SECRET.file} <path>, not ${PEER_SECRET.value}.`;

/** the log level the components log at (the logger reads TASK_SWARM_LOG when it is made) */
function applyLogLevel(inv: Invocation): void {
  if (typeof inv.opts.log === 'string') process.env.TASK_SWARM_LOG = inv.opts.log;
}

const peerSecret = (inv: Invocation) => secretOf(PEER_SECRET, inv.opts, inv.source, inv.warn)?.value;

/**
 * Start a worker or monitor and run it until SIGINT/SIGTERM: the first stops it gracefully
 * (status 0, or 1 when stopping failed), a second one returns at once (130/143) and the bin
 * entry exits with it while the stop is still under way.
 */
/** a worker's or a monitor's ListenError with its flags: its metrics server's, or the worker's peer port's */
function listenFlag(e: unknown): unknown {
  const metrics = e instanceof Error && / for metrics: /.test(e.message);
  return withListenFlag(e, metrics ? { port: '--metrics-port', host: '--metrics-host', anyPort: true } : { port: '--port', host: '--host', anyPort: true });
}

export async function runUntilSignal(io: CliIO, what: string, start: () => Promise<void>, stop: () => Promise<void>): Promise<number> {
  let settle: (code: number) => void = () => {};
  const stopped = new Promise<number>((resolve) => (settle = resolve));
  let stopping = false;
  const handler = (signal: NodeJS.Signals | 'reader gone') => {
    if (stopping) {
      if (signal === 'reader gone') return;
      io.stderr.write(`${PROG}: ${signal} again: exiting at once\n`);
      settle(signal === 'SIGINT' ? 130 : 143);
      return;
    }
    stopping = true;
    io.stderr.write(
      signal === 'reader gone' ? `${PROG}: the reader of its output went away: stopping the ${what}\n` : `${PROG}: ${signal}: stopping the ${what} (${signal} again to exit at once)\n`,
    );
    stop().then(
      () => settle(0),
      (e: unknown) => {
        io.stderr.write(`${PROG}: error while stopping the ${what}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}\n`);
        settle(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  // (`task-swarm worker | tee log`, tee gone: stopped as by a signal, its tasks handed back)
  const readerKept = whenReaderGone(() => handler('reader gone'));
  try {
    // A signal during start stops it too; start failing because of that stop is no error.
    await Promise.race([
      start().catch((e: unknown) => {
        if (!stopping) throw e;
      }),
      stopped,
    ]);
    return await stopped;
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    readerKept();
  }
}

export const COMPONENT_COMMANDS: CommandSpec[] = [
  {
    name: 'worker',
    summary: 'run a worker with the task functions a module exports',
    details:
      'The module (.js, .mjs, or .ts when tsx is installed) exports task functions: each named export that\n' +
      'is a function is registered under its export name; a default export that is an object registers\n' +
      'its function properties by key; a default export that is a function registers under its name (or\n' +
      'the file name when anonymous). SIGINT/SIGTERM stop the worker gracefully; a second one exits at once.',
    options: [repeatableOption('-f, --functions <module>', 'module exporting task functions (repeatable)'), ...fieldOptions(WORKER_FIELDS), ...secretOptions(PEER_SECRET), logOption()],
    help: PEER_SECRET_HELP,
    async run(inv) {
      const paths = inv.opts.functions as string[] | undefined;
      if (!paths?.length) throw new UsageError('worker: missing --functions <module> (a module exporting the task functions)');
      applyLogLevel(inv);
      const options = { ...fieldValues(WORKER_FIELDS, inv.opts), redis: inv.redis, secret: peerSecret(inv) } as WorkerOptions;
      const worker = new Worker(options); // validates the options before anything is loaded
      // (from the modules' loading on: one may leave a rejection as it is imported)
      const uncatch = catchStrayErrors(inv.io, 'worker');
      try {
        const functions = await loadFunctions(paths);
        for (const [name, fn] of functions) worker.addTaskFunction(name, fn);
        await checkRedis(inv.redis);
        const stop = () => {
          // (a grace of 10 s by default, silent otherwise: what the worker waits for, and how long)
          const n = worker.running.length;
          if (n) inv.io.stderr.write(`${PROG}: waiting up to ${worker.config.stopGrace} ms (--stop-grace) for ${n} running task(s) to end; then they go back to the queue\n`);
          return worker.stop();
        };
        return await runUntilSignal(inv.io, 'worker', () => worker.start().catch((e: unknown) => Promise.reject(listenFlag(e))), stop);
      } finally {
        uncatch();
      }
    },
  },
  {
    name: 'monitor',
    summary: 'run a monitor, which requeues the tasks of dead workers',
    details: 'SIGINT/SIGTERM stop it; a second one exits at once.',
    options: [...fieldOptions(MONITOR_FIELDS), ...secretOptions(PEER_SECRET), logOption()],
    help: PEER_SECRET_HELP,
    async run(inv) {
      applyLogLevel(inv);
      const options = { ...fieldValues(MONITOR_FIELDS, inv.opts), redis: inv.redis, secret: peerSecret(inv) } as MonitorOptions;
      const monitor = new Monitor(options);
      await checkRedis(inv.redis);
      const uncatch = catchStrayErrors(inv.io, 'monitor');
      try {
        return await runUntilSignal(inv.io, 'monitor', () => monitor.start().catch((e: unknown) => Promise.reject(listenFlag(e))), () => monitor.stop());
      } finally {
        uncatch();
      }
    },
  },
];
