/**
 * Metrics across real processes: a worker is SIGKILLed while it runs a task, a monitor started
 * by the CLI (`task-swarm monitor --metrics-port`) requeues the task, and a worker started by the
 * CLI (`task-swarm worker --metrics-port`) runs it to its end; what each says on /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { CLI } from './helpers/cli.js';
import { readExposition, type Exposition } from './helpers/exposition.js';
import { spawnWorker } from './helpers/processes.js';
import { freePort, until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

/** `task-swarm <argv>` as a process, stopped (SIGTERM) at clean-up */
function cli(argv: string[]): ChildProcess {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, ...argv], {
    env: { ...process.env, REDIS_URL: server.url, TASK_SWARM_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  cleanup.push(
    () =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(undefined);
        proc.once('exit', resolve);
        proc.kill('SIGTERM');
      }),
  );
  return proc;
}

async function scrape(port: number): Promise<Exposition> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return readExposition(await res.text());
}

describe('metrics of a swarm of processes', () => {
  it('a SIGKILLed worker\'s task: requeued by the monitor, run by another worker, each counted where it happened', async () => {
    const o = server.options();
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-metrics-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const functions = join(dir, 'tasks.mjs');
    writeFileSync(functions, 'export async function sleep(task) { return { attempt: task.attempt }; }\n');

    const monitorPort = await freePort();
    cli(['monitor', '--metrics-port', String(monitorPort), '--task-timeout', '1000', '--check-task-interval', '200', '--key-prefix', o.keyPrefix]);
    await until(() => scrape(monitorPort).then((m) => m.samples('task_swarm_workers').length === 1), 'the monitor serving its metrics', 20_000, 100);

    const doomed = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200 });
    cleanup.push(() => doomed.kill());
    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const id = await client.submit('sleep', { ms: 30_000 });
    await doomed.waitFor(new RegExp(`^STARTED ${id} 1$`));
    expect((await scrape(monitorPort)).value('task_swarm_lease_oldest_age_seconds')).toBeLessThan(1);
    await doomed.kill('SIGKILL');

    const workerPort = await freePort();
    cli(['worker', '--functions', functions, '--port', '0', '--metrics-port', String(workerPort), '--key-prefix', o.keyPrefix]);
    const done = await client.wait(id, { timeout: 20_000 });
    expect(done).toMatchObject({ state: 'END', outcome: 'succeeded', result: { attempt: 2 } });

    const m = await scrape(monitorPort);
    expect(m.value('task_swarm_monitor_tasks_requeued_total')).toBe(1);
    expect(m.value('task_swarm_monitor_tasks_parked_total')).toBe(0);
    // (in one of active's states: sweeping, firing schedules, or idle between sweeps)
    expect(m.samples('task_swarm_monitor_machine_state').filter((x) => x.value === 1).map((x) => x.labels!.state)).toEqual([expect.stringMatching(/^active\./)]);
    const w = await until(() => scrape(workerPort).then((x) => (x.value('task_swarm_worker_tasks_ended_total') === 1 ? x : undefined)), 'the END counted');
    expect(w.value('task_swarm_worker_tasks_claimed_total', { function: 'sleep' })).toBe(1);
    expect(w.value('task_swarm_worker_tasks_ended_total', { function: 'sleep', outcome: 'succeeded' })).toBe(1);
    expect(w.count('task_swarm_worker_run_seconds', { function: 'sleep' })).toBe(1);
    // its second claim: the wait from submit to a first claim was the dead worker's to report
    expect(w.count('task_swarm_worker_pickup_latency_seconds')).toBe(0);
  });
});
