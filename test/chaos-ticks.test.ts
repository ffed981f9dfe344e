/**
 * The chaos soak's schedule checks (test/chaos/ticks.ts) fail on what they claim to catch: a
 * tick fired twice (the same id, made of the name and the tick), a tick's task run to two ends
 * (seen by its firing or only in Redis), and they pass a soak where each tick fired once.
 */
import { describe, expect, it } from 'vitest';
import { scheduleTaskId } from '../src/schedule.js';
import { checkTicks, tickIdsIn, tickOf, unseenTicks } from './chaos/ticks.js';

const NAME = 'chaos-tick';
const T1 = Date.UTC(2026, 0, 1, 0, 0, 2);
const T2 = T1 + 2000;
const id1 = scheduleTaskId(NAME, T1);
const id2 = scheduleTaskId(NAME, T2);
const fired = (tick: number, id: string) => `SCHEDULE fired ${tick} ${id} ${NAME}`;
const counts = (over: Partial<Parameters<typeof checkTicks>[0]>) => ({ scheduleLines: [], name: NAME, inRedis: [], ends: new Map<string, number>(), runs: new Map<string, number>(), ...over });

describe('chaos soak schedule checks', () => {
  it('pass ticks each fired once and ended once, whoever printed them', () => {
    const lines = [fired(T1, id1), `SCHEDULE duplicate ${T1} ${id1} ${NAME}`, fired(T2, id2), `SCHEDULE fired ${T1} ${scheduleTaskId('other', T1)} other`];
    expect(checkTicks(counts({ scheduleLines: lines, inRedis: [id1, id2], ends: new Map([[id1, 1], [id2, 1]]), runs: new Map([[id1, 2]]) }))).toEqual([]);
  });

  it('fail a tick fired twice with the same id', () => {
    const wrong = checkTicks(counts({ scheduleLines: [fired(T1, id1), fired(T2, id2), fired(T1, id1)], ends: new Map([[id1, 1]]) }));
    expect(wrong).toEqual([`schedule tick ${T1} fired 2 times: ${id1} (0 start(s), 1 end(s))`]);
  });

  it('fail a tick fired under the id of another tick', () => {
    expect(checkTicks(counts({ scheduleLines: [fired(T1, id2)] }))).toEqual([`schedule tick ${T1} fired as ${id2}, the id of another tick`]);
  });

  it("fail a tick's task run to two ends, its firing printed or found only in Redis", () => {
    expect(checkTicks(counts({ scheduleLines: [fired(T1, id1)], ends: new Map([[id1, 2]]), runs: new Map([[id1, 2]]) }))).toEqual([`schedule tick task ${id1} ran to 2 ends (2 start(s), 2 end(s))`]);
    expect(checkTicks(counts({ inRedis: [id2], ends: new Map([[id2, 2]]) }))).toEqual([`schedule tick task ${id2} ran to 2 ends (0 start(s), 2 end(s), its firing unseen)`]);
  });

  it('find tick tasks among task hash keys, and those no monitor printed', () => {
    const prefix = '{chaos-1}:task-';
    const keys = [prefix + id1, prefix + id2, `${prefix}schedule:${NAME}@soon`, `${prefix}schedule:${NAME}x@${new Date(T1).toISOString()}`, `${prefix}t12`];
    expect(tickIdsIn(keys, prefix, NAME)).toEqual([id1, id2]);
    expect(tickOf(id2)).toBe(T2);
    expect(unseenTicks([fired(T1, id1)], NAME, [id1, id2])).toEqual([id2]);
  });
});
