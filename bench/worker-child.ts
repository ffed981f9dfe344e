/**
 * A worker child process of the benchmark (forked with IPC by bench/lib/children.ts), so that
 * the producer and the workers never share an event loop. Messages from the parent:
 *   { cmd: 'start', spec }  -> start a worker of spec.lib; answers { type: 'ready', goAt, readyAt }
 *   { cmd: 'stop' }         -> stop it gracefully; answers { type: 'stopped' }
 *   { cmd: 'cpu' }          -> { type: 'cpu', us } (process.cpuUsage user + system, µs)
 *   { cmd: 'exit' }         -> exit (this writes the CPU profile when run with --cpu-prof)
 * While it runs, `probe` and `hang` tasks send { type: 'started', id, attempt, t }.
 * Timestamps are process.hrtime.bigint() in ns, as strings (CLOCK_MONOTONIC: one clock for
 * every process on the machine).
 */
import { preload, startWorker, type RunningWorker, type WorkerSpec } from './lib/workers.js';
import type { LibName } from './lib/libs.js';

type Msg = { cmd: 'start'; spec: WorkerSpec } | { cmd: 'stop' } | { cmd: 'cpu' } | { cmd: 'exit' };

const now = () => process.hrtime.bigint().toString();
const send = (m: unknown) => process.send?.(m);

let worker: RunningWorker | undefined;

process.on('message', (m: Msg) => {
  void (async () => {
    try {
      if (m.cmd === 'start') {
        const goAt = now();
        worker = await startWorker(m.spec, (id, attempt) => send({ type: 'started', id, attempt, t: now() }));
        send({ type: 'ready', goAt, readyAt: now() });
      } else if (m.cmd === 'stop') {
        const w = worker;
        worker = undefined;
        await w?.stop();
        send({ type: 'stopped', at: now() });
      } else if (m.cmd === 'cpu') {
        const u = process.cpuUsage();
        send({ type: 'cpu', us: u.user + u.system });
      } else if (m.cmd === 'exit') {
        process.exit(0);
      }
    } catch (e) {
      send({ type: 'error', message: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
    }
  })();
});

process.on('disconnect', () => process.exit(0));
// Load the library before the parent starts any clock.
await preload(process.argv[2] as LibName);
send({ type: 'loaded', at: now() });
