/**
 * `--pin` (bench/run.ts): redis-server on one core, everything else (the worker children and this
 * process) on the other, so that a worker and Redis never take turns on one core: what a machine
 * with a core for each would show. Uses taskset (util-linux); `-a` pins every thread.
 */
import { execFileSync } from 'node:child_process';

export const PIN = { redis: '1', workers: '0' };
export const pinning = () => process.env.TASK_SWARM_BENCH_PIN === '1';

export function pin(pid: number | undefined, cpus: string): void {
  if (!pinning() || pid === undefined) return;
  execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
}
