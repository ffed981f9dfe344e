/**
 * bench/seed-drain.ts for the peer libraries: `n` no-op jobs submitted through BullMQ's or
 * Bee-Queue's ordinary submit path (the bench's producer, bench/lib/libs.ts createProducer, in
 * batches of 500 as seed-drain fills), then one worker of that library at the given concurrency
 * drains them in this process, with the library's defaults as the bench's worker children run
 * them (bench/lib/workers.ts: no-op function, completed jobs kept, no events read back). Same
 * command line and output as seed-drain, so that bench/seed-instructions.ts can count the
 * instructions Redis spends per drained job:
 *
 *   node --import tsx bench/peer-drain.ts <dir> --lib=bullmq|bee-queue [--port=P] [--n=20000] [--concurrency=10] [--fill-only]
 *   node --import tsx bench/seed-instructions.ts . --drain=bench/peer-drain.ts --lib=bullmq --concurrency=1,10,100
 *
 * (the checkout argument is ignored; --functions too: a peer worker serves one handler). With
 * --port it uses that redis-server (FLUSHALL and SCRIPT FLUSH first: never give it a Redis that
 * holds anything you want), else it starts its own on a free port. The drain ends when the
 * worker has reported all n jobs finished in Redis (its own completion events, which cost Redis
 * nothing, unlike polling it: a poll's instructions would depend on how long the drain takes),
 * checked once with the bench's completion count; then the worker is closed. Prints one JSON
 * line: drain and fill time, and Redis's own cost of the drain per job (INFO commandstats and
 * INFO cpu), as seed-drain does.
 */
import { drainCommands, drainRedis, redisCpuUs } from './lib/drain-redis.js';
import { completedCount, createProducer, QUEUE, type LibName } from './lib/libs.js';
import { runMain } from './lib/run-main.js';

const [dirArg, ...rest] = process.argv.slice(2);
const opt = new Map(rest.map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const lib = opt.get('lib') as LibName | undefined;
if (!dirArg || dirArg.startsWith('--') || (lib !== 'bullmq' && lib !== 'bee-queue')) {
  console.error('usage: peer-drain.ts <dir> --lib=bullmq|bee-queue [--port=P] [--n=20000] [--concurrency=10] [--fill-only]');
  process.exit(2);
}
const n = Number(opt.get('n') ?? 20_000);
const concurrency = Number(opt.get('concurrency') ?? 10);

interface Drainer {
  /** resolves when the worker has seen `count` jobs finished (each after its write to Redis) */
  finished(count: number): Promise<void>;
  close(): Promise<void>;
}

/** one worker, as bench/lib/workers.ts starts it for the `noop` function, counting what it finishes */
async function startDrainer(redis: { host: string; port: number }): Promise<Drainer> {
  let done = 0;
  let waiting: { count: number; resolve: () => void } | undefined;
  const onFinished = () => {
    done++;
    if (waiting && done >= waiting.count) waiting.resolve();
  };
  const finished = (count: number) => (done >= count ? Promise.resolve() : new Promise<void>((resolve) => (waiting = { count, resolve })));
  if (lib === 'bullmq') {
    const { Worker } = await import('bullmq');
    const worker = new Worker(QUEUE, async () => null, { connection: redis, concurrency });
    worker.on('error', () => {});
    // emitted once moveToFinished has returned (the job is in `completed`)
    worker.on('completed', onFinished);
    await worker.waitUntilReady();
    return { finished, close: () => worker.close() };
  }
  const BeeQueue = (await import('bee-queue')).default;
  const queue = new BeeQueue(QUEUE, { redis, isWorker: true, getEvents: false });
  queue.on('error', () => {});
  // emitted once the finishing MULTI has run (the job is in `succeeded`)
  queue.on('succeeded', onFinished);
  queue.process(concurrency, async () => null);
  await queue.ready();
  return { finished, close: () => queue.close(5000) };
}

async function main() {
  const t0 = performance.now();
  const { port, admin, close } = await drainRedis(Number(opt.get('port') ?? 0), 'peer-drain');
  try {
    const redis = { host: '127.0.0.1', port };
    const producer = await createProducer(lib!, redis);
    const f0 = performance.now();
    for (let i = 0; i < n; ) {
      const batch: Promise<string>[] = [];
      for (let j = 0; j < 500 && i < n; j++, i++) batch.push(producer.submit('noop', i));
      await Promise.all(batch);
    }
    const fillMs = performance.now() - f0;
    if (opt.has('fill-only')) {
      // (to subtract the fill from a whole-server measure, e.g. instructions under callgrind)
      await producer.close();
      console.log(JSON.stringify({ lib, n, fillMs: Math.round(fillMs) }));
      return;
    }
    await admin.config('RESETSTAT');
    const cpu0 = await redisCpuUs(admin);

    const d0 = performance.now();
    const cpu = process.cpuUsage();
    const drainer = await startDrainer(redis);
    await drainer.finished(n);
    const drainMs = performance.now() - d0;
    const used = process.cpuUsage(cpu);
    // the bench's own count, once (it polls until it is reached): it should already be n
    let polls = 1;
    while ((await completedCount(lib!, admin)) < n) {
      polls++;
      await new Promise((r) => setTimeout(r, 2));
    }
    const cpu1 = await redisCpuUs(admin);
    // the worker's own commands, per job (the bench's count read above left out)
    const { redisScriptUsPerTask, commandsPerTask } = await drainCommands(admin, n, []);
    await drainer.close();
    await producer.close();
    const per = (x: number) => Math.round((x / n) * 100) / 100;
    console.log(
      JSON.stringify({
        lib,
        n,
        concurrency,
        drainMs: Math.round(drainMs * 10) / 10,
        rate: Math.round(n / (drainMs / 1000)),
        fillMs: Math.round(fillMs),
        redisScriptUsPerTask,
        redisCpuUsPerTask: per(cpu1 - cpu0),
        // this process: the worker (the producer is idle while it drains)
        workerCpuUsPerTask: per(used.user + used.system),
        commandsPerTask,
        completionPolls: polls,
        processMs: Math.round(performance.now() - t0),
      }),
    );
  } finally {
    close();
  }
}

runMain(main);
