/**
 * The monitor machine, with every effect replaced by a fake, and its pure `sweepDelay`.
 *
 * Layer 1 asks the pure `transition()` which effects a step requests. Layer 2 runs the monitor
 * as an actor on a SimulatedClock with fakes that record their calls.
 */
import { describe, it, expect } from 'vitest';
import { createActor, fromCallback, fromPromise, initialTransition, transition, SimulatedClock, type AnyActorRef, type AnyEventObject } from 'xstate';
import { holdsAfterLoss, holdsAfterSweep, MAX_HOLDS, monitorMachine, sweepDelay, type FiringResult, type Hold, type MonitorContext, type MonitorEvent, type MonitorInput, type SweepResult } from '../../machines/monitor.js';
import type { PeerProbe } from '../../machines/worker.js';
import { afterEvent, doneEvent, errorEvent, inputOf, invoked, scheduled } from './steps.js';

const input: MonitorInput = { taskTimeout: 1000, checkTaskInterval: 200, partitionPercentage: 50, fetchWorkerInterval: 300 };

const sweepResult = (now: number, nextDeadline: number): SweepResult => ({ requeued: [], parked: [], reaped: 0, now, nextDeadline });
const firingResult = (now: number, nextDue: number): FiringResult => ({ firings: [], now, nextDue });

describe('sweepDelay: how long an idle monitor sleeps', () => {
  const ctx = (over: Partial<MonitorContext> = {}): MonitorContext => ({ ...input, holds: [], ...over });

  it('before any sweep, it sleeps min(checkTaskInterval, taskTimeout / 4)', () => {
    expect(sweepDelay(ctx())).toBe(200);
    expect(sweepDelay(ctx({ checkTaskInterval: 5000 }))).toBe(250);
  });

  // Redis reads no sweep and no heartbeat for over taskTimeout / 2 as an outage (lib/swarm-silence.lua):
  // once every worker is dead, a lone monitor's own sleep must not look like one
  it('never sleeps taskTimeout / 2 or more, whatever checkTaskInterval is (the defaults: 15 s and 30 s)', () => {
    expect(sweepDelay(ctx({ taskTimeout: 30_000, checkTaskInterval: 15_000, lastSweep: sweepResult(50_000, -1) }))).toBe(7500);
    expect(sweepDelay(ctx({ taskTimeout: 30_000, checkTaskInterval: 15_000, lastSweep: sweepResult(50_000, 70_000) }))).toBe(7500);
    expect(sweepDelay(ctx({ taskTimeout: 4000, checkTaskInterval: 2000 }))).toBe(1000);
    expect(sweepDelay(ctx({ taskTimeout: 3, checkTaskInterval: 2000 }))).toBe(1);
  });

  it('with no task running (nextDeadline -1), it sleeps the cap', () => {
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, -1) }))).toBe(200);
    expect(sweepDelay(ctx({ taskTimeout: 600, lastSweep: sweepResult(50_000, -1) }))).toBe(150);
  });

  it('it wakes a few ms after the earliest lease deadline, so the lease is stale when it looks', () => {
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 50_100) }))).toBe(105);
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 50_000) }))).toBe(5);
  });

  it('a deadline beyond the cap does not make it sleep longer than the cap', () => {
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 60_000) }))).toBe(200);
    expect(sweepDelay(ctx({ checkTaskInterval: 5000, lastSweep: sweepResult(50_000, 60_000) }))).toBe(250);
  });

  it('a deadline already past gives the shortest positive sleep, never 0 or less', () => {
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 49_000) }))).toBe(1);
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 49_995) }))).toBe(1);
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 49_996) }))).toBe(1);
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 49_997) }))).toBe(2);
  });

  it('it wakes 1 ms after the earliest schedule tick when that comes before the lease deadline', () => {
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 50_100), lastFiring: firingResult(50_000, 50_040) }))).toBe(41);
    expect(sweepDelay(ctx({ lastSweep: sweepResult(50_000, 50_100), lastFiring: firingResult(50_000, 50_300) }))).toBe(105);
    expect(sweepDelay(ctx({ lastFiring: firingResult(50_000, 90_000) }))).toBe(200);
    expect(sweepDelay(ctx({ lastFiring: firingResult(50_000, 49_000) }))).toBe(1);
    expect(sweepDelay(ctx({ lastFiring: firingResult(50_000, -1) }))).toBe(200);
  });

  // Node fires a timer over 2^31-1 ms (~24.8 days) after 1 ms: the monitor would sweep in a
  // tight loop. sweepDelay clamps (and config refuses such values).
  it('never asks for a timer longer than Node can hold (2^31-1 ms)', () => {
    const huge = 30 * 24 * 3600 * 1000; // 30 days
    expect(sweepDelay(ctx({ taskTimeout: huge, checkTaskInterval: huge }))).toBeLessThanOrEqual(2 ** 31 - 1);
  });
});

// ---------------------------------------------------------------------------------------------
// Helpers for the pure layer
// ---------------------------------------------------------------------------------------------

type Snap = ReturnType<typeof initialTransition<typeof monitorMachine>>[0];
type Actions = ReturnType<typeof transition<typeof monitorMachine>>[1];

const named = (actions: Actions) => actions.map((a) => a.type).filter((t) => !t.startsWith('xstate.'));
/** the inputs of every sweep a step starts */
const sweeps = (actions: Actions) =>
  actions
    .filter((x) => x.type === 'xstate.spawnChild' && (x.params as { src: unknown }).src === 'sweep')
    .map((a) => (a.params as { actorRef?: { options?: { input?: unknown } } }).actorRef?.options?.input);
const srcs = (snap: Snap) => Object.values(snap.children).map((ref) => (ref as AnyActorRef).src);
const done = doneEvent<MonitorEvent>;
const failed = errorEvent<MonitorEvent>;
const after = afterEvent<MonitorEvent>;

function step(snap: Snap, ...events: MonitorEvent[]): [Snap, Actions] {
  let acts: Actions = [];
  for (const e of events) [snap, acts] = transition(monitorMachine, snap, e);
  return [snap, acts];
}
const starting = () => initialTransition(monitorMachine, input)[0];
const sweeping = () => {
  const s = starting();
  return step(s, done(s, 'connect'))[0];
};
const firing = (result = sweepResult(10_000, 10_100)) => {
  const s = sweeping();
  return step(s, done(s, 'sweep', result))[0];
};
const idle = (result = sweepResult(10_000, 10_100), fired = firingResult(10_000, -1)) => {
  const s = firing(result);
  return step(s, done(s, 'fireSchedules', fired))[0];
};
const probing = () => step(idle(), { type: 'REDIS_LOST' })[0];
const probed = (p: PeerProbe) => {
  const s = probing();
  return step(s, done(s, 'probePeers', p));
};
const waiting = () => probed({ reached: 2, total: 2 })[0];
const paused = () => probed({ reached: 0, total: 2 })[0];
const grace = () => step(waiting(), { type: 'REDIS_BACK' })[0];

describe('monitor machine: which effects each step asks for (pure)', () => {
  it('a new monitor watches Redis and connects', () => {
    const [snap, actions] = initialTransition(monitorMachine, input);
    expect(snap.value).toBe('starting');
    expect(invoked(actions)).toEqual(['redisWatch', 'connect']);
  });

  it('once connected it is active: it keeps its worker list and sweeps, requeueing stale tasks', () => {
    const s = starting();
    const [snap, actions] = step(s, done(s, 'connect'));
    expect(snap.value).toEqual({ active: 'sweeping' });
    expect(invoked(actions)).toEqual(['refreshPeers', 'sweep']);
    expect(inputOf(actions, 'sweep')).toEqual({ requeue: true });
  });

  it('a monitor that cannot connect fails for good and reports why', () => {
    const s = starting();
    const [snap, actions] = step(s, failed(s, 'connect'));
    expect(snap.value).toBe('failed');
    expect(snap.status).toBe('done');
    expect(named(actions)).toEqual(['reportError']);
  });

  it('after a sweep it reports it, remembers it and fires the schedules that fell due', () => {
    const s = sweeping();
    const result = sweepResult(10_000, 10_100);
    const [snap, actions] = step(s, done(s, 'sweep', result));
    expect(snap.value).toEqual({ active: 'firing' });
    expect(snap.context.lastSweep).toEqual(result);
    expect(named(actions)).toEqual(['reportSweep']);
    expect(invoked(actions)).toEqual(['fireSchedules']);
  });

  it('after firing it reports it, remembers it and sleeps sweepDelay (the earliest of deadline and tick)', () => {
    const s = firing(sweepResult(10_000, 10_100));
    const fired = firingResult(10_002, 10_050);
    const [snap, actions] = step(s, done(s, 'fireSchedules', fired));
    expect(snap.value).toEqual({ active: 'idle' });
    expect(snap.context.lastFiring).toEqual(fired);
    expect(named(actions)).toEqual(['reportFiring']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.sweepDelay.monitor.active.idle': 49 });
  });

  it('with nothing running and no schedule it sleeps the cap, min(checkTaskInterval, taskTimeout / 4)', () => {
    const s = firing(sweepResult(10_000, -1));
    const [, actions] = step(s, done(s, 'fireSchedules', firingResult(10_000, -1)));
    expect(scheduled(actions)).toEqual({ 'xstate.after.sweepDelay.monitor.active.idle': 200 });
  });

  it('a failed firing is reported and the monitor checks whether it is cut off', () => {
    const s = firing();
    const [snap, actions] = step(s, failed(s, 'fireSchedules'));
    expect(snap.value).toBe('probing');
    expect(named(actions)).toEqual(['reportError']);
  });

  it('when the sleep is over it sweeps again, with requeue', () => {
    const [snap, actions] = step(idle(), after('sweepDelay', 'monitor.active.idle'));
    expect(snap.value).toEqual({ active: 'sweeping' });
    expect(sweeps(actions)).toEqual([{ requeue: true }]);
  });

  it('a failed sweep is reported and the monitor checks whether it is cut off', () => {
    const s = sweeping();
    const [snap, actions] = step(s, failed(s, 'sweep'));
    expect(snap.value).toBe('probing');
    expect(named(actions)).toEqual(['reportError']);
    expect(invoked(actions)).toEqual(['awaitRedis', 'probePeers']);
    expect(srcs(snap)).not.toContain('refreshPeers');
  });

  it.each([
    ['sweeping', sweeping],
    ['idle', () => idle()],
    ['firing', () => firing()],
  ])('REDIS_LOST while active (%s) stops sweeping and probes the workers', (_name, from) => {
    const [snap, actions] = step(from(), { type: 'REDIS_LOST' });
    expect(snap.value).toBe('probing');
    expect(invoked(actions)).toEqual(['awaitRedis', 'probePeers']);
    expect(srcs(snap)).not.toContain('sweep');
    expect(srcs(snap)).not.toContain('fireSchedules');
    expect(srcs(snap)).not.toContain('refreshPeers');
  });

  it.each([
    ['half of the workers answer (= partitionPercentage)', { reached: 2, total: 4 }, 'waiting'],
    ['every worker answers', { reached: 3, total: 3 }, 'waiting'],
    ['no worker is known (total 0)', { reached: 0, total: 0 }, 'waiting'],
    ['fewer than partitionPercentage answer', { reached: 1, total: 3 }, 'paused'],
    ['no worker answers', { reached: 0, total: 5 }, 'paused'],
  ] as const)('when %s the monitor is %s', (_why, probe, expected) => {
    const [snap, actions] = probed(probe);
    expect(snap.value).toBe(expected);
    expect(snap.context.lastProbe).toEqual(probe);
    expect(sweeps(actions)).toEqual([]);
    expect(invoked(actions)).toEqual(['awaitRedis']);
    expect(scheduled(actions)).toEqual({ [`xstate.after.fetchWorkerInterval.monitor.${expected}`]: 300 });
  });

  it('a probe that fails pauses the monitor', () => {
    const s = probing();
    const [snap] = step(s, failed(s, 'probePeers'));
    expect(snap.value).toBe('paused');
  });

  it.each([
    ['waiting', waiting],
    ['paused', paused],
  ])('%s probes the workers again every fetchWorkerInterval', (name, from) => {
    const [snap, actions] = step(from(), after('fetchWorkerInterval', `monitor.${name}`));
    expect(snap.value).toBe('probing');
    expect(invoked(actions)).toContain('probePeers');
  });

  it.each([
    ['probing', probing],
    ['waiting', waiting],
    ['paused', paused],
  ])('REDIS_BACK in %s starts a grace period: ended tasks are cleaned, nothing is requeued', (_name, from) => {
    const [snap, actions] = step(from(), { type: 'REDIS_BACK' });
    expect(snap.value).toEqual({ grace: 'cleaning' });
    expect(sweeps(actions)).toEqual([{ requeue: false }]);
    // nothing fires in grace: workers re-assert the tasks Redis lost first
    expect(invoked(actions)).not.toContain('fireSchedules');
  });

  it('the grace lasts one taskTimeout from its sweep, by Redis\'s clock; a cleanup that fails, one from then', () => {
    const s = grace();
    const [swept, actions] = step(s, done(s, 'sweep', sweepResult(20_000, -1)));
    expect(swept.value).toEqual({ grace: 'done' });
    expect(sweeps(actions)).toEqual([]);
    expect(swept.context.grace).toEqual({ until: 21_000, seen: 20_000 });
    expect(scheduled(actions)).toEqual({ 'xstate.after.graceLeft.monitor.grace.done': 1000 });
    const [blind, none] = step(s, failed(s, 'sweep'));
    expect(blind.value).toEqual({ grace: 'cleaningFailed' });
    expect(sweeps(none)).toEqual([]);
    expect(scheduled(none)).toEqual({ 'xstate.after.taskTimeout.monitor.grace.cleaningFailed': 1000 });
  });

  it('after its grace the monitor is active again and sweeps with requeue', () => {
    const s = grace();
    const [swept] = step(s, done(s, 'sweep', sweepResult(20_000, -1)));
    const [snap, actions] = step(swept, after('graceLeft', 'monitor.grace.done'));
    expect(snap.value).toEqual({ active: 'sweeping' });
    expect(sweeps(actions)).toEqual([{ requeue: true }]);
    expect(snap.context.grace).toBeUndefined();
  });

  it('a grace cut short before its first sweep is still owed: back to the same server, it is a grace, not active', () => {
    const [s] = step(grace(), { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true });
    expect(s.value).toEqual({ grace: 'cleaning' });
    const [, actions] = step(s, done(s, 'sweep', sweepResult(20_000, -1)));
    expect(scheduled(actions)).toEqual({ 'xstate.after.graceLeft.monitor.grace.done': 1000 });
  });

  it('a grace cut short by the link goes on, back to the same server, to the end it had: not one begun anew', () => {
    let s = grace();
    [s] = step(s, done(s, 'sweep', sweepResult(20_000, -1)));
    // the link drops 600 ms in; the same server answers again; the cleanup sweeps at 20,700
    [s] = step(s, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true });
    expect(s.value).toEqual({ grace: 'cleaning' });
    const [cont, actions] = step(s, done(s, 'sweep', sweepResult(20_700, -1)));
    expect(cont.context.grace).toEqual({ until: 21_000, seen: 20_700 });
    expect(scheduled(actions)).toEqual({ 'xstate.after.graceLeft.monitor.grace.done': 300 });
    // another server meanwhile (it restarted again): a grace begun anew, a whole taskTimeout
    const [anew] = step(cont, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK' });
    const [, fresh] = step(anew, done(anew, 'sweep', sweepResult(20_900, -1)));
    expect(scheduled(fresh)).toEqual({ 'xstate.after.graceLeft.monitor.grace.done': 1000 });
  });

  it.each([
    ['probing', probing],
    ['waiting', waiting],
    ['paused', paused],
  ])('REDIS_BACK from the same server in %s: active at once, holding only what was live when Redis was lost', (_name, from) => {
    const [snap, actions] = step(from(), { type: 'REDIS_BACK', sameServer: true });
    expect(snap.value).toEqual({ active: 'sweeping' });
    // (lost after the sweep at Redis time 10,000: the last time Redis answered)
    expect(sweeps(actions)).toEqual([{ requeue: true, heldFrom: 10_000 }]);
    expect(snap.context.holds).toEqual([{ from: 10_000 }]);
    // its data whole, the schedules fire after the sweep
    const [fired, next] = step(snap, done(snap, 'sweep', sweepResult(12_000, -1)));
    expect(fired.value).toEqual({ active: 'firing' });
    expect(invoked(next)).toEqual(['fireSchedules']);
    // the hold ends one taskTimeout after the first sweep back
    expect(fired.context.holds).toEqual([{ from: 10_000, until: 13_000 }]);
  });

  it('the hold ends a taskTimeout after the first sweep back: the idle monitor wakes for it, and sweeps unheld', () => {
    let [s] = step(waiting(), { type: 'REDIS_BACK', sameServer: true });
    [s] = step(s, done(s, 'sweep', sweepResult(12_000, -1)));
    [s] = step(s, done(s, 'fireSchedules', firingResult(12_000, -1)));
    expect(s.value).toEqual({ active: 'idle' });
    // (the cap is 200: no hold ending sooner)
    expect(sweepDelay(s.context)).toBe(200);
    const [swept, held] = step(s, after('sweepDelay', 'monitor.active.idle'));
    expect(sweeps(held)).toEqual([{ requeue: true, heldFrom: 10_000 }]);
    [s] = step(swept, done(swept, 'sweep', sweepResult(12_900, -1)));
    [s] = step(s, done(s, 'fireSchedules', firingResult(12_900, -1)));
    expect(sweepDelay(s.context)).toBe(105);
    const [woken, actions] = step(s, after('sweepDelay', 'monitor.active.idle'));
    expect(sweeps(actions)).toEqual([{ requeue: true, heldFrom: 10_000 }]);
    const [over] = step(woken, done(woken, 'sweep', sweepResult(13_005, -1)));
    expect(over.context.holds).toEqual([]);
    const [, unheld] = step(over, done(over, 'fireSchedules', firingResult(13_005, -1)), after('sweepDelay', 'monitor.active.idle'));
    expect(sweeps(unheld)).toEqual([{ requeue: true }]);
  });

  it('a link lost again and again: each loss holds what was live then, the oldest hold rules until it ends', () => {
    /** a sweep done at Redis time `now`, and the firing after it */
    const pass = (snap: Snap, now: number) => {
      const [swept] = step(snap, done(snap, 'sweep', sweepResult(now, -1)));
      return step(swept, done(swept, 'fireSchedules', firingResult(now, -1)))[0];
    };
    let [s] = step(waiting(), { type: 'REDIS_BACK', sameServer: true });
    s = pass(s, 12_000);
    // lost again (the last sweep: 12,000), back, swept at 12,600
    [s] = step(s, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true });
    s = pass(s, 12_600);
    expect(s.context.holds).toEqual([
      { from: 10_000, until: 13_000 },
      { from: 12_000, until: 13_600 },
    ]);
    // lost twice more before a sweep came back: one hold more, not two
    [s] = step(s, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true }, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true });
    expect(s.context.holds).toEqual([{ from: 10_000, until: 13_000 }, { from: 12_000, until: 13_600 }, { from: 12_600 }]);
    s = pass(s, 13_100);
    // the first hold is over: the second rules
    expect(s.context.holds).toEqual([
      { from: 12_000, until: 13_600 },
      { from: 12_600, until: 14_100 },
    ]);
    const [, actions] = step(s, after('sweepDelay', 'monitor.active.idle'));
    expect(sweeps(actions)).toEqual([{ requeue: true, heldFrom: 12_000 }]);
  });

  it('holds are bounded: past MAX_HOLDS two neighbours are one, holding no less', () => {
    let holds: Hold[] = [];
    const made: Hold[] = [];
    for (let i = 0; i < MAX_HOLDS + 10; i++) {
      holds = holdsAfterLoss({ holds, lastSweep: sweepResult(1000 * (i + 1), -1) });
      holds = holdsAfterSweep(holds, 1000 * (i + 1) + 500, 1_000_000);
      made.push({ from: 1000 * (i + 1), until: 1000 * (i + 1) + 500 + 1_000_000 });
    }
    expect(holds).toHaveLength(MAX_HOLDS);
    // the oldest loss still rules
    expect(holds[0]!.from).toBe(1000);
    // each loss's hold is within one kept: from no later, until no sooner
    for (const h of made) expect(holds.some((k) => k.from <= h.from && k.until! >= h.until!), JSON.stringify(h)).toBe(true);
    // the ends closest merged first, the oldest such pair: the first ten pairs, each once
    expect(holds.slice(0, 11)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => ({ from: 1000 * (2 * i + 1), until: 1000 * (2 * i + 2) + 500 + 1_000_000 })),
      { from: 21_000, until: 21_000 + 500 + 1_000_000 },
    ]);
  });

  it('a grace (another server) ends every hold: what they held has had its taskTimeout', () => {
    let [s] = step(waiting(), { type: 'REDIS_BACK', sameServer: true });
    [s] = step(s, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK' });
    expect(s.value).toEqual({ grace: 'cleaning' });
    // (held by the grace, to a taskTimeout after its first sweep; their times another server's)
    expect(s.context.holds).toEqual([]);
    // lost again before the grace's first sweep: the grace holds it
    [s] = step(s, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true });
    expect(s.context.holds).toEqual([]);
    const [swept] = step(s, done(s, 'sweep', sweepResult(12_000, -1)));
    const [back, actions] = step(swept, after('graceLeft', 'monitor.grace.done'));
    expect(back.context.holds).toEqual([]);
    expect(sweeps(actions)).toEqual([{ requeue: true }]);
  });

  it('a loss during a grace holds what was live then past the grace\'s end: a taskTimeout from the sweep back', () => {
    let s = grace();
    [s] = step(s, done(s, 'sweep', sweepResult(20_000, -1)));
    // lost 500 ms in (the grace's sweep the last Redis time heard), back after the grace's end
    [s] = step(s, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true });
    expect(s.context.holds).toEqual([{ from: 20_000 }]);
    [s] = step(s, done(s, 'sweep', sweepResult(22_000, -1)));
    expect(s.context.holds).toEqual([{ from: 20_000, until: 23_000 }]);
    const [active, actions] = step(s, after('graceLeft', 'monitor.grace.done'));
    expect(active.value).toEqual({ active: 'sweeping' });
    expect(active.context.holds).toEqual([{ from: 20_000, until: 23_000 }]);
    expect(sweeps(actions)).toEqual([{ requeue: true, heldFrom: 20_000 }]);
    // back before the grace's end: held to a taskTimeout from that return, past the grace
    let t = grace();
    [t] = step(t, done(t, 'sweep', sweepResult(20_000, -1)));
    [t] = step(t, { type: 'REDIS_LOST' }, { type: 'REDIS_BACK', sameServer: true });
    [t] = step(t, done(t, 'sweep', sweepResult(20_600, -1)));
    const [after600] = step(t, after('graceLeft', 'monitor.grace.done'));
    expect(after600.context.holds).toEqual([{ from: 20_000, until: 21_600 }]);
  });

  it('REDIS_LOST during grace probes again', () => {
    const [snap, actions] = step(grace(), { type: 'REDIS_LOST' });
    expect(snap.value).toBe('probing');
    expect(invoked(actions)).toEqual(['awaitRedis', 'probePeers']);
  });

  it.each([
    ['starting', starting],
    ['active.sweeping', sweeping],
    ['active.firing', () => firing()],
    ['active.idle', () => idle()],
    ['probing', probing],
    ['waiting', waiting],
    ['paused', paused],
    ['grace', grace],
  ])('STOP in %s disconnects, then the monitor is stopped', (_name, from) => {
    const [snap, actions] = step(from(), { type: 'STOP' });
    expect(snap.value).toBe('stopping');
    expect(invoked(actions)).toEqual(['disconnect']);
    expect(srcs(snap)).toEqual(['redisWatch', 'disconnect']);
    const [end] = step(snap, done(snap, 'disconnect'));
    expect(end.value).toBe('stopped');
    expect(end.status).toBe('done');
  });

  it('a failed disconnect is reported and the monitor is stopped anyway', () => {
    const [s] = step(idle(), { type: 'STOP' });
    const [snap, actions] = step(s, failed(s, 'disconnect'));
    expect(snap.value).toBe('stopped');
    expect(named(actions)).toEqual(['reportError']);
  });

  // Two close stop() calls must not run the disconnect twice.
  it('a second STOP while stopping does not restart the disconnect', () => {
    const [s] = step(idle(), { type: 'STOP' });
    const [snap, actions] = step(s, { type: 'STOP' });
    expect(snap.value).toBe('stopping');
    expect(invoked(actions)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Running the monitor with fake effects
// ---------------------------------------------------------------------------------------------

/**
 * Fake effects. `sweep` follows `sweeps` (a result, or 'throws'), then reports nothing
 * running; it records whether it was asked to requeue. probePeers follows `probes`, then
 * reaches every worker. awaitRedis and the other services expose their sendBack in `send`.
 */
function fakeMonitor(opts: { sweeps?: Array<SweepResult | 'throws'>; probes?: PeerProbe[] } = {}) {
  const plan = [...(opts.sweeps ?? [])];
  const probes = [...(opts.probes ?? [])];
  const log = {
    connects: 0,
    firings: 0,
    sweeps: [] as boolean[],
    probes: 0,
    disconnects: 0,
    reports: [] as string[],
    services: [] as string[],
    send: {} as Record<string, (e: AnyEventObject) => void>,
  };
  const service = (name: string) =>
    fromCallback<AnyEventObject>(({ sendBack }) => {
      log.services.push(name);
      log.send[name] = sendBack;
      return () => log.services.push(`-${name}`);
    });
  const logic = monitorMachine.provide({
    actors: {
      connect: fromPromise<void>(async () => {
        log.connects++;
      }),
      sweep: fromPromise<SweepResult, { requeue: boolean }>(async ({ input }) => {
        log.sweeps.push(input.requeue);
        const next = plan.shift() ?? sweepResult(0, -1);
        if (next === 'throws') throw new Error('NOSCRIPT');
        return next;
      }),
      fireSchedules: fromPromise<FiringResult>(async () => {
        log.firings++;
        return firingResult(0, -1);
      }),
      probePeers: fromPromise<PeerProbe>(async () => {
        log.probes++;
        return probes.shift() ?? { reached: 1, total: 1 };
      }),
      redisWatch: service('redisWatch'),
      awaitRedis: service('awaitRedis'),
      refreshPeers: service('refreshPeers'),
      disconnect: fromPromise<void>(async () => {
        log.disconnects++;
      }),
    },
    actions: {
      reportSweep: () => log.reports.push('sweep'),
      reportFiring: () => log.reports.push('firing'),
      reportError: ({ event }) => log.reports.push(`error:${event.type}`),
    },
  });
  return { logic, log };
}

const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
};

async function runMonitor(fake: ReturnType<typeof fakeMonitor>) {
  const clock = new SimulatedClock();
  const crashes: unknown[] = [];
  const actor = createActor(fake.logic, { input, clock });
  actor.subscribe({ error: (e) => crashes.push(e) });
  actor.start();
  await settle();
  /** advance the clock by ms and let the effects settle */
  const advance = async (ms: number) => {
    clock.increment(ms);
    await settle();
  };
  return { actor, clock, crashes, advance, state: () => actor.getSnapshot().value };
}

describe('monitor machine: running with fake effects', () => {
  it('sweeps, sleeps until just past the earliest lease deadline, and sweeps again', async () => {
    const fake = fakeMonitor({ sweeps: [sweepResult(10_000, 10_150), sweepResult(10_155, -1)] });
    const m = await runMonitor(fake);
    expect(fake.log.connects).toBe(1);
    expect(fake.log.sweeps).toEqual([true]);
    expect(m.state()).toEqual({ active: 'idle' });

    await m.advance(154);
    expect(fake.log.sweeps).toEqual([true]);
    await m.advance(1); // 155 = 150 to the deadline + 5
    expect(fake.log.sweeps).toEqual([true, true]);

    // nothing running now: the next sweep comes after the cap (200)
    await m.advance(199);
    expect(fake.log.sweeps).toHaveLength(2);
    await m.advance(1);
    expect(fake.log.sweeps).toHaveLength(3);
    expect(fake.log.reports).toEqual(['sweep', 'firing', 'sweep', 'firing', 'sweep', 'firing']);
    expect(fake.log.firings).toBe(3);
    expect(m.crashes).toEqual([]);
  });

  it('with Redis lost but most workers reachable, it waits, sweeps nothing, and re-probes every fetchWorkerInterval', async () => {
    const fake = fakeMonitor({ probes: [{ reached: 3, total: 4 }, { reached: 3, total: 4 }] });
    const m = await runMonitor(fake);
    fake.log.send.redisWatch!({ type: 'REDIS_LOST' });
    await settle();
    expect(m.state()).toBe('waiting');
    expect(fake.log.probes).toBe(1);

    await m.advance(299);
    expect(fake.log.probes).toBe(1);
    await m.advance(1);
    expect(fake.log.probes).toBe(2);
    expect(m.state()).toBe('waiting');
    await m.advance(2000);
    expect(fake.log.sweeps).toEqual([true]); // only the one before Redis was lost
  });

  it('cut off from most workers, it pauses and requeues nothing', async () => {
    const fake = fakeMonitor({ probes: [{ reached: 0, total: 4 }] });
    const m = await runMonitor(fake);
    m.actor.send({ type: 'REDIS_LOST' });
    await settle();
    expect(m.state()).toBe('paused');
    expect(m.actor.getSnapshot().context.lastProbe).toEqual({ reached: 0, total: 4 });
    await m.advance(1000);
    expect(fake.log.sweeps).toEqual([true]);
  });

  it('when Redis is back it cleans without requeueing for taskTimeout, then requeues again', async () => {
    const fake = fakeMonitor({ probes: [{ reached: 0, total: 4 }] });
    const m = await runMonitor(fake);
    m.actor.send({ type: 'REDIS_LOST' });
    await settle();
    fake.log.send.awaitRedis!({ type: 'REDIS_BACK' });
    await settle();

    expect(m.state()).toEqual({ grace: 'done' });
    expect(fake.log.sweeps).toEqual([true, false]);

    await m.advance(999);
    expect(fake.log.sweeps).toEqual([true, false]);
    expect(m.actor.getSnapshot().matches('grace')).toBe(true);

    await m.advance(1);
    expect(fake.log.sweeps).toEqual([true, false, true]);
    expect(m.state()).toEqual({ active: 'idle' });
    expect(m.crashes).toEqual([]);
  });

  it('Redis lost again during grace: it probes again, and the grace timer no longer ends anything', async () => {
    const fake = fakeMonitor({ probes: [{ reached: 0, total: 4 }, { reached: 0, total: 4 }, { reached: 0, total: 4 }] });
    const m = await runMonitor(fake);
    m.actor.send({ type: 'REDIS_LOST' });
    await settle();
    m.actor.send({ type: 'REDIS_BACK' });
    await settle();
    await m.advance(500);
    m.actor.send({ type: 'REDIS_LOST' });
    await settle();
    expect(m.state()).toBe('paused');

    await m.advance(500); // where the first grace would have ended
    expect(m.actor.getSnapshot().matches('active')).toBe(false);
    expect(fake.log.sweeps).toEqual([true, false]);
  });

  it('a failing sweep is reported and makes the monitor probe, not sweep in a loop', async () => {
    const fake = fakeMonitor({ sweeps: ['throws'], probes: [{ reached: 2, total: 2 }] });
    const m = await runMonitor(fake);
    expect(fake.log.reports).toEqual([expect.stringMatching(/^error:xstate\.error\.actor\./)]);
    expect(fake.log.probes).toBe(1);
    expect(m.state()).toBe('waiting');
    await m.advance(250);
    expect(fake.log.sweeps).toEqual([true]);
  });

  it('STOP disconnects and ends the monitor; no sweep happens afterwards', async () => {
    const fake = fakeMonitor();
    const m = await runMonitor(fake);
    m.actor.send({ type: 'STOP' });
    await settle();
    expect(fake.log.disconnects).toBe(1);
    expect(m.state()).toBe('stopped');
    expect(m.actor.getSnapshot().status).toBe('done');
    expect(fake.log.services).toEqual(expect.arrayContaining(['-redisWatch', '-refreshPeers']));
    await m.advance(5000);
    expect(fake.log.sweeps).toEqual([true]);
  });
});
