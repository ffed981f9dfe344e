/**
 * The seed path, drained: `n` no-op tasks with no group, no priority and no limit (submitted
 * through `Client.submit`, which pushes them on `new-task` as the seed's producers do), then one
 * `Worker` at the given concurrency drains them. Uses only the public API of the checkout it is
 * given (`<dir>/src/index.ts`), so the same script measures any commit:
 *
 *   node --import tsx bench/seed-drain.ts <checkout dir> [--port=P] [--n=20000] [--concurrency=10] [--functions=1] [--fill-only]
 *
 * With --port it uses that redis-server (FLUSHALL and SCRIPT FLUSH first: never give it a Redis
 * that holds anything you want), else it starts its own on a free port. Prints one JSON line:
 * the drain time (worker start to the last task ended in Redis), the fill time, and Redis's own
 * cost of the drain per task (INFO commandstats: the scripts' µs and the commands they ran, and
 * INFO cpu). bench/seed-pairs.ts runs it against two checkouts, alternating.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { freePort, spawnRedis } from '../tools/redis-process.js';

const [dirArg, ...rest] = process.argv.slice(2);
if (!dirArg || dirArg.startsWith('--')) {
  console.error('usage: seed-drain.ts <checkout dir> [--port=P] [--n=20000] [--concurrency=10]');
  process.exit(2);
}
const opt = new Map(rest.map((a) => a.replace(/^--/, '').split('=') as [string, string]));
// --fill-only: submit the tasks and stop (no worker)
const n = Number(opt.get('n') ?? 20_000);
const concurrency = Number(opt.get('concurrency') ?? 10);
process.env.TASK_SWARM_LOG = 'silent';

type Stats = Record<string, { calls: number; usec: number }>;
async function commandStats(r: Redis): Promise<Stats> {
  const out: Stats = {};
  for (const line of (await r.info('commandstats')).split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out[m[1]!] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
}
async function redisCpuUs(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const v = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (v('used_cpu_user') + v('used_cpu_sys')) * 1e6;
}

async function main() {
  const t0 = performance.now();
  let port = Number(opt.get('port') ?? 0);
  let own: { stop(): void } | undefined;
  if (!port) {
    port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'seed-drain-'));
    const proc = await spawnRedis({ port, dir });
    own = {
      stop: () => {
        proc.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const admin = new Redis({ host: '127.0.0.1', port, connectionName: 'seed-drain-admin' });
  try {
    await admin.flushall();
    await admin.script('FLUSH');
    const lib = (await import(pathToFileURL(join(resolve(dirArg!), opt.get('entry') ?? 'src/index.ts')).href)) as typeof import('../src/index.js');
    const redis = { host: '127.0.0.1', port };
    const client = new lib.Client({ redis });
    const f0 = performance.now();
    for (let i = 0; i < n; ) {
      const batch: Promise<string>[] = [];
      for (let j = 0; j < 500 && i < n; j++, i++) batch.push(client.submit('noop', { i }));
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
    const stats = await commandStats(admin);
    await worker.stop();
    await client.close();

    // the worker's own commands: scripts (their µs include the commands run inside them), and
    // what ran inside them or beside them, per task
    const skip = new Set(['info', 'llen', 'config|resetstat', 'config']);
    const per = (x: number) => Math.round((x / n) * 100) / 100;
    const scripts = Object.entries(stats).filter(([k]) => k.startsWith('evalsha') || k === 'eval' || k === 'fcall');
    const scriptUs = scripts.reduce((s, [, v]) => s + v.usec, 0);
    const commands = Object.fromEntries(
      Object.entries(stats)
        .filter(([k]) => !skip.has(k))
        .map(([k, v]) => [k, per(v.calls)]),
    );
    console.log(
      JSON.stringify({
        dir: resolve(dirArg!),
        n,
        concurrency,
        drainMs: Math.round(drainMs * 10) / 10,
        rate: Math.round(n / (drainMs / 1000)),
        fillMs: Math.round(fillMs),
        redisScriptUsPerTask: per(scriptUs),
        redisCpuUsPerTask: per(cpu1 - cpu0),
        // this process: the worker (the client is idle while it drains)
        workerCpuUsPerTask: per(used.user + used.system),
        commandsPerTask: commands,
        processMs: Math.round(performance.now() - t0),
      }),
    );
  } finally {
    admin.disconnect();
    own?.stop();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
