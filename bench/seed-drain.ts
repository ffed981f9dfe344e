/**
 * The seed path, drained: `n` no-op tasks with no group, no priority and no limit (submitted
 * through `Client.submit`, which pushes them on `new-task` as the seed's producers do), then one
 * `Worker` at the given concurrency drains them. Uses only the public API of the checkout it is
 * given (`<dir>/src/index.ts`), so the same script measures any commit:
 *
 *   node --import tsx bench/seed-drain.ts <checkout dir> [--port=P] [--n=20000] [--concurrency=10] [--functions=1] [--data=<JSON>] [--fill-only]
 *
 * With --port it uses that redis-server (FLUSHALL and SCRIPT FLUSH first: never give it a Redis
 * that holds anything you want), else it starts its own on a free port. Prints one JSON line:
 * the drain time (worker start to the last task ended in Redis), the fill time, and Redis's own
 * cost of the drain per task (INFO commandstats: the scripts' µs and the commands they ran, and
 * INFO cpu). bench/seed-pairs.ts runs it against two checkouts, alternating.
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { drainCommands, drainRedis, redisCpuUs } from './lib/drain-redis.js';
import { runMain } from './lib/run-main.js';

const [dirArg, ...rest] = process.argv.slice(2);
if (!dirArg || dirArg.startsWith('--')) {
  console.error('usage: seed-drain.ts <checkout dir> [--port=P] [--n=20000] [--concurrency=10]');
  process.exit(2);
}
const opt = new Map(rest.map((a) => a.replace(/^--/, '').split('=') as [string, string]));
// --fill-only: submit the tasks and stop (no worker)
const n = Number(opt.get('n') ?? 20_000);
const concurrency = Number(opt.get('concurrency') ?? 10);
// --data=<JSON>: what each task carries besides its number, as `{ i, d }` (text with an escape,
// a string that reads as JSON: what a claim judges its entry by)
const extra: unknown = opt.has('data') ? JSON.parse(opt.get('data')!) : undefined;
process.env.TASK_SWARM_LOG = 'silent';

async function main() {
  const t0 = performance.now();
  const { port, admin, close } = await drainRedis(Number(opt.get('port') ?? 0), 'seed-drain');
  try {
    const lib = (await import(pathToFileURL(join(resolve(dirArg!), opt.get('entry') ?? 'src/index.ts')).href)) as typeof import('../src/index.js');
    const redis = { host: '127.0.0.1', port };
    const client = new lib.Client({ redis });
    const f0 = performance.now();
    for (let i = 0; i < n; ) {
      const batch: Promise<string>[] = [];
      for (let j = 0; j < 500 && i < n; j++, i++) batch.push(client.submit('noop', extra === undefined ? { i } : { i, d: extra }));
      await Promise.all(batch);
    }
    const fillMs = performance.now() - f0;
    if (opt.has('fill-only')) {
      // (to subtract the fill from a whole-server measure, e.g. instructions under callgrind)
      await client.close();
      console.log(JSON.stringify({ dir: resolve(dirArg!), n, fillMs: Math.round(fillMs) }));
      return;
    }
    await admin.config('RESETSTAT');
    const cpu0 = await redisCpuUs(admin);

    const ended = 'tasks:ended'; // the default key names: the task set `tasks`, and its `:ended` list
    const d0 = performance.now();
    const cpu = process.cpuUsage();
    const worker = new lib.Worker({ host: '127.0.0.1', port: 0, redis, concurrency });
    worker.addTaskFunction('noop', async () => null);
    // --functions=N: the worker also serves N - 1 other functions (none of them queued), as the
    // bench's worker children do (noop, probe, hang, flaky)
    for (let f = 1; f < Number(opt.get('functions') ?? 1); f++) worker.addTaskFunction(`other${f}`, async () => null);
    await worker.start();
    while ((await admin.llen(ended)) < n) await new Promise((r) => setTimeout(r, 2));
    const drainMs = performance.now() - d0;
    const used = process.cpuUsage(cpu);
    const cpu1 = await redisCpuUs(admin);
    // the worker's own commands, per task (the drain's LLEN polls left out)
    const { redisScriptUsPerTask, commandsPerTask } = await drainCommands(admin, n, ['llen']);
    await worker.stop();
    await client.close();
    const per = (x: number) => Math.round((x / n) * 100) / 100;
    console.log(
      JSON.stringify({
        dir: resolve(dirArg!),
        n,
        concurrency,
        drainMs: Math.round(drainMs * 10) / 10,
        rate: Math.round(n / (drainMs / 1000)),
        fillMs: Math.round(fillMs),
        redisScriptUsPerTask,
        redisCpuUsPerTask: per(cpu1 - cpu0),
        // this process: the worker (the client is idle while it drains)
        workerCpuUsPerTask: per(used.user + used.system),
        commandsPerTask,
        processMs: Math.round(performance.now() - t0),
      }),
    );
  } finally {
    close();
  }
}

runMain(main);
