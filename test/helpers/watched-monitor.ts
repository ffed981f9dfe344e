/**
 * A Monitor started for a test and watched: the lines it logs at info, warn and error kept, in
 * order, as text (`lines`), the schedules it fires (`firings`) and its sweeps (`sweeps`), its stop
 * registered in the test's `cleanup` list.
 */
import { Monitor, type FiringResult, type MonitorOptions, type SweepResult } from '../../src/index.js';

export interface WatchedMonitor {
  monitor: Monitor;
  lines: string[];
  firings: FiringResult['firings'];
  sweeps: SweepResult[];
}

/** a Monitor with `options` (its logger the one that keeps `lines`), started, its stop in `cleanup` */
export async function startWatchedMonitor(options: Omit<MonitorOptions, 'logger'>, cleanup: (() => Promise<unknown>)[]): Promise<WatchedMonitor> {
  const lines: string[] = [];
  const keep = (m: unknown) => void lines.push(String(m));
  const monitor = new Monitor({ ...options, logger: { debug() {}, info: keep, warn: keep, error: keep } });
  const firings: FiringResult['firings'] = [];
  const sweeps: SweepResult[] = [];
  monitor.on('schedules', (r: FiringResult) => firings.push(...r.firings));
  monitor.on('sweep', (r: SweepResult) => sweeps.push(r));
  await monitor.start();
  cleanup.push(() => monitor.stop());
  return { monitor, lines, firings, sweeps };
}
