/**
 * Two worker processes, a monitor process and a producer process run `tasks` tasks of `taskMs`
 * through a deployment; once a third are done, `fault` runs. Then every task must have ended
 * succeeded as the producer saw it, each must have run, no process may have died, and both
 * workers must have run tasks after the fault, on their own. Resolves with the tasks that
 * started more than once (a lost write can make a task run twice: the caller says how many may).
 */
import { expect } from 'vitest';
import { until } from './redis-server.js';
import { spawnMonitor, spawnProducer, spawnWorker, type WorkerProcess } from './processes.js';

export async function swarmThroughFault(
  o: { redis: Record<string, unknown>; producerRedis: Record<string, unknown>; tasks: number; taskMs: number; procs: WorkerProcess[] },
  fault: () => Promise<void>,
): Promise<{ twice: string[] }> {
  const workerOptions = { port: 0, redis: o.redis, concurrency: 8, heartbeatInterval: 200, fetchTaskInterval: 500 };
  const workers = [await spawnWorker(workerOptions, [], ['work']), await spawnWorker(workerOptions, [], ['work'])];
  o.procs.push(...workers);
  const monitor = await spawnMonitor({ redis: o.redis, taskTimeout: 3000, checkTaskInterval: 500 });
  o.procs.push(monitor);
  const tasks = Array.from({ length: o.tasks }, (_, i) => ({ id: `t${i}`, fn: 'work', data: { ms: o.taskMs } }));
  const producer = await spawnProducer({ redis: o.producerRedis, tasks, timeout: 60_000 });
  o.procs.push(producer);
  await producer.waitFor(/^SUBMITTED-ALL /, 20_000);
  const done = () => workers.reduce((n, w) => n + w.lines.filter((l) => l.startsWith('DONE ')).length, 0);
  await until(() => done() >= o.tasks / 3, 'a third of the tasks done', 30_000, 10);
  const faultAt = Date.now();
  await fault();
  await producer.waitFor(/^ALL-ENDED$/, 60_000);

  expect(producer.lines.filter((l) => l.startsWith('REJECTED '))).toEqual([]);
  const endLines = producer.lines.filter((l) => l.startsWith('END '));
  expect(endLines).toHaveLength(o.tasks);
  expect(endLines.filter((l) => !/ succeeded \d+$/.test(l))).toEqual([]);
  const starts = new Map<string, number>();
  for (const w of workers) {
    for (const l of w.lines) {
      const m = /^STARTED (\S+) /.exec(l);
      if (m) starts.set(m[1]!, (starts.get(m[1]!) ?? 0) + 1);
    }
  }
  expect(tasks.filter((t) => !starts.has(t.id))).toEqual([]);
  for (const p of [...workers, monitor]) expect({ exit: p.proc.exitCode, signal: p.proc.signalCode }).toEqual({ exit: null, signal: null });
  for (const w of workers) expect(w.lines.filter((l, i) => l.startsWith('STARTED ') && w.times[i]! > faultAt + 500).length).toBeGreaterThan(0);
  for (const p of [producer, monitor, ...workers]) await p.kill('SIGKILL');
  return { twice: [...starts].filter(([, n]) => n > 1).map(([id]) => id) };
}
