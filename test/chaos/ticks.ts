/**
 * The chaos soak's schedule checks (test/chaos/run.ts, test/chaos/mix.ts), kept pure so that
 * test/chaos-ticks.test.ts can show each of them failing.
 *
 * A tick's task id is made of the schedule's name and the tick (src/schedule.ts scheduleTaskId),
 * so a tick fired twice shows the same id twice: what is counted is, per tick, the monitors'
 * `SCHEDULE fired <tick> <id> <name>` lines, and per tick task the `end` events published on its
 * channel (one END per task: a second is a second run to an end, a tick fired again). The ticks
 * are those the lines name and those whose task hashes are in Redis (a monitor killed between
 * firing and printing leaves only the hash).
 */

/** the ISO form src/schedule.ts scheduleTaskId gives a tick */
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** the ids of the ticks of schedule `name` among task hash keys `keys` (their names `taskKeyPrefix` + id) */
export function tickIdsIn(keys: string[], taskKeyPrefix: string, name: string): string[] {
  const head = `${taskKeyPrefix}schedule:${name}@`;
  return keys.filter((k) => k.startsWith(head) && ISO.test(k.slice(head.length))).map((k) => k.slice(taskKeyPrefix.length));
}

/** the tick (ms) of a tick task id, `schedule:<name>@<ISO>` */
export function tickOf(id: string): number {
  return Date.parse(id.slice(id.lastIndexOf('@') + 1));
}

export interface TickCounts {
  /** the monitors' SCHEDULE lines */
  scheduleLines: string[];
  /** the schedule's name */
  name: string;
  /** the tick task ids found in Redis */
  inRedis: string[];
  /** `end` events seen per task id */
  ends: Map<string, number>;
  /** starts seen per task id (every attempt), for the report */
  runs: Map<string, number>;
}

/** per tick: fired at most once, with its own id; its task ended at most once; one line per wrong thing */
export function checkTicks(c: TickCounts): string[] {
  const wrong: string[] = [];
  const fired = new Map<string, string[]>();
  for (const l of c.scheduleLines) {
    const [, outcome, tick, id, name] = l.split(' ');
    if (outcome !== 'fired' || name !== c.name) continue;
    fired.set(tick!, [...(fired.get(tick!) ?? []), id!]);
  }
  const runs = (id: string) => `${c.runs.get(id) ?? 0} start(s), ${c.ends.get(id) ?? 0} end(s)`;
  for (const [tick, ids] of fired) {
    if (ids.length > 1) wrong.push(`schedule tick ${tick} fired ${ids.length} times: ${[...new Set(ids)].map((id) => `${id} (${runs(id)})`).join(', ')}`);
    for (const id of new Set(ids)) if (tickOf(id) !== Number(tick)) wrong.push(`schedule tick ${tick} fired as ${id}, the id of another tick`);
  }
  const ids = new Set([...[...fired.values()].flat(), ...c.inRedis]);
  for (const id of ids) {
    const n = c.ends.get(id) ?? 0;
    if (n > 1) wrong.push(`schedule tick task ${id} ran to ${n} ends (${runs(id)}${fired.has(String(tickOf(id))) ? '' : ', its firing unseen'})`);
  }
  return wrong;
}

/** tick ids found in Redis whose firing no monitor printed (it was killed between firing and printing) */
export function unseenTicks(scheduleLines: string[], name: string, inRedis: string[]): string[] {
  const seen = new Set(scheduleLines.filter((l) => l.startsWith('SCHEDULE fired ') && l.endsWith(` ${name}`)).map((l) => l.split(' ')[3]));
  return inRedis.filter((id) => !seen.has(id));
}
