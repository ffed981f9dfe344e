/**
 * The monitors, as the dashboard, `schedules` and Client.monitors() show them: each one's last
 * sweep (requeue.lua records it, on Redis's clock). A monitor sweeps at least once a
 * taskTimeout while it is active, so one silent longer is not (stopped, cut off, or dead); the
 * monitors prune it after 2 taskTimeouts. One that stops says so at once (markStopped), its last
 * sweep kept.
 */
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { readTogether } from '../read-together.js';

export interface MonitorView {
  name: string;
  /** Redis ms of its last sweep */
  lastSweep: number;
  /** active: swept within the taskTimeout; silent: not since, or stopped */
  health: 'active' | 'silent';
}

/**
 * A stopped monitor's entry is its name with this after it, scored with its last sweep, so the
 * sweeps prune it by score as any other. (Left as it was, a stopped monitor read as active for a
 * whole taskTimeout: `schedules` said an overdue tick waited "though a monitor runs", and `wait`
 * kept back its "no monitor runs" warning, when none ran.)
 */
const STOPPED = ' (stopped)';

/** Mark `name` stopped in each of `keys` (its partitions); bounded by the caller. */
export async function markStopped(redis: Connection, keys: Keys[], name: string): Promise<void> {
  await Promise.all(
    keys.map(async (k) => {
      const last = await redis.zscore(k.monitorsSeen, name);
      if (last === null) return;
      await redis.multi().zrem(k.monitorsSeen, name).zadd(k.monitorsSeen, last, name + STOPPED).exec();
    }),
  );
}

export async function readMonitors(redis: Connection, keys: Keys, now: number): Promise<MonitorView[]> {
  const replies = (await readTogether(redis, (c) => c.zrange(keys.monitorsSeen, 0, -1, 'WITHSCORES').hget(keys.outage, 'timeout'))) ?? [];
  const [flat, timeout] = replies.map(([e, v]) => (e ? null : v)) as [string[] | null, string | null];
  const within = Number(timeout) > 0 ? Number(timeout) : 0;
  const out: MonitorView[] = [];
  // (a sweep in flight as it stopped may list it again under its own name: stopped wins)
  const stoppedNames = new Set((flat ?? []).filter((m, i) => i % 2 === 0 && m.endsWith(STOPPED)).map((m) => m.slice(0, -STOPPED.length)));
  for (let i = 0; flat && i < flat.length; i += 2) {
    const lastSweep = Number(flat[i + 1]);
    const member = flat[i]!;
    const stopped = member.endsWith(STOPPED);
    if (!stopped && stoppedNames.has(member)) continue;
    out.push({ name: stopped ? member.slice(0, -STOPPED.length) : member, lastSweep, health: !stopped && now - lastSweep <= within ? 'active' : 'silent' });
  }
  return out;
}
