/**
 * The monitors, as the dashboard, `schedules` and Client.monitors() show them: each one's last
 * sweep (requeue.lua records it, on Redis's clock). A monitor sweeps at least once a
 * taskTimeout while it is active, so one silent longer is not (stopped, cut off, or dead); the
 * monitors prune it after 2 taskTimeouts.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';

export interface MonitorView {
  name: string;
  /** Redis ms of its last sweep */
  lastSweep: number;
  /** active: swept within the taskTimeout; silent: not since */
  health: 'active' | 'silent';
}

export async function readMonitors(redis: Connection, keys: Keys, now: number): Promise<MonitorView[]> {
  const replies = (await redis.multi().zrange(keys.monitorsSeen, 0, -1, 'WITHSCORES').hget(keys.outage, 'timeout').exec()) ?? [];
  const [flat, timeout] = replies.map(([e, v]) => (e ? null : v)) as [string[] | null, string | null];
  const within = Number(timeout) > 0 ? Number(timeout) : 0;
  const out: MonitorView[] = [];
  for (let i = 0; flat && i < flat.length; i += 2) {
    const lastSweep = Number(flat[i + 1]);
    out.push({ name: flat[i]!, lastSweep, health: now - lastSweep <= within ? 'active' : 'silent' });
  }
  return out;
}
