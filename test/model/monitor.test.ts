/**
 * Model-based test of the monitor machine (xstate/graph).
 *
 * Paths covering every edge of the state graph (the state value; the last sweep and probe
 * results are ignored) are replayed against the monitor provided with controllable effects on a
 * SimulatedClock. The sweep is the real one: when a path says a sweep completes, requeue.lua
 * (for a sweep with requeue) and reap.lua run on a private redis-server holding a task whose
 * lease is long stale, and the monitor gets their real result.
 *
 * At every step: the monitor took the model's transitions, the effects running are exactly
 * those of its active states, and a monitor that is probing, waiting, paused or in grace starts
 * no sweep with requeue and has requeued nothing: the stale task is still RUNNING in Redis. An
 * active monitor's sweep does requeue it (so the check can fail). Likewise the firing is the
 * real one (fire-schedule.lua) on a schedule that is always due: an active monitor fires it, and
 * one that is probing, waiting, paused or in grace has fired nothing.
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createActor, SimulatedClock, type AnyEventObject } from 'xstate';
import { graceLeft, monitorMachine, sweepDelay, type MonitorInput, type SweepResult } from '../../machines/monitor.js';
import { buildKeys, type Keys } from '../../src/keys.js';
import { resolveRedisConfig } from '../../src/config.js';
import { reapEnded, requeueStale } from '../../src/effects/sweep.js';
import { fireDue } from '../../src/effects/schedules.js';
import { checkSchedule } from '../../src/schedule.js';
import type { RedisServer } from '../helpers/redis-server.js';
import { redisPerFile } from '../helpers/suite.js';
import {
  cached,
  callbackVia,
  coverageOf,
  definitionOf,
  edgeCoveringPaths,
  Effects,
  eventsFor,
  invokedSrcs,
  missing,
  plansFor,
  promiseVia,
  pureStepper,
  rootTransitions,
  settle,
  type Payloads,
  type Plan,
  type Snap,
} from './harness.js';

const input: MonitorInput = { taskTimeout: 1000, checkTaskInterval: 400, partitionPercentage: 50, fetchWorkerInterval: 300 };

/**
 * The abstract state is the state value, whether a loss of Redis holds requeues back, and
 * whether a grace is owed: the last sweep and probe results are ignored.
 */
const abstract = (s: Snap) => JSON.stringify([s.value, s.context.holds.length > 0, s.context.grace !== undefined]);
const fail = () => [{ message: 'fake failure' }];

const payloads: Payloads = {
  done: {
    connect: () => [undefined],
    // the replay hands the monitor the real sweep's result instead
    sweep: (): SweepResult[] => [{ requeued: [], parked: [], reaped: 0, now: 0, nextDeadline: -1 }],
    // below partitionPercentage (50), above it, and no worker known at all
    // the replay hands the monitor the real firing's result instead
    fireSchedules: () => [{ firings: [], now: 0, nextDue: -1 }],
    probePeers: () => [
      { reached: 1, total: 4 },
      { reached: 3, total: 4 },
      { reached: 0, total: 0 },
    ],
    disconnect: () => [undefined],
  },
  error: { connect: fail, sweep: fail, fireSchedules: fail, probePeers: fail, disconnect: fail },
  events: {
    STOP: () => [{ type: 'STOP' }],
    REDIS_LOST: () => [{ type: 'REDIS_LOST' }],
    // the server it left, or another (or one that names no run id)
    REDIS_BACK: () => [{ type: 'REDIS_BACK', sameServer: true }, { type: 'REDIS_BACK' }],
  },
};
const events = (s: Snap) => eventsFor(s, payloads);

const definition = definitionOf(monitorMachine);
const stepper = cached(pureStepper(monitorMachine), abstract);
const plans = plansFor(edgeCoveringPaths(monitorMachine, { input, abstract, events }), stepper, input, events, abstract);

let server: RedisServer;
let redis: Redis;

redisPerFile((s, r) => {
  server = s;
  redis = r;
});

/** What one replay records; the machine below, provided once, reports to the current one. */
class Sut {
  readonly fx = new Effects();
  readonly clock = new SimulatedClock();
  readonly reports: string[] = [];
  sink: string[] | undefined = [];
}
let sut = new Sut();

const logic = monitorMachine.provide({
  actors: {
    ...Object.fromEntries(['connect', 'sweep', 'fireSchedules', 'probePeers', 'disconnect'].map((src) => [src, promiseVia(src, () => sut.fx)])),
    ...Object.fromEntries(['redisWatch', 'awaitRedis', 'refreshPeers'].map((src) => [src, callbackVia(src, () => sut.fx)])),
  },
  actions: {
    reportSweep: () => sut.reports.push('sweep'),
    reportFiring: () => sut.reports.push('firing'),
    reportError: ({ event }) => sut.reports.push(event.type),
  },
});

/** The real sweep, as src/monitor.ts runs it (requeue.lua, then reap.lua). */
async function realSweep(keys: Keys, requeue: boolean, heldFrom?: number): Promise<SweepResult> {
  let r: SweepResult = { requeued: [], parked: [], reaped: 0, now: 0, nextDeadline: -1, graceLeft: 0 };
  if (requeue) {
    const q = await requeueStale(redis, keys, input.taskTimeout, 1000, 5, 'model-monitor', heldFrom);
    r = { ...r, requeued: q.requeued, parked: q.parked, now: q.now, nextDeadline: q.nextDeadline, graceLeft: q.graceLeft };
  } else r.now = Number((await redis.time())[0]) * 1000;
  return { ...r, reaped: (await reapEnded(redis, keys, 0, 1000)).reaped };
}

const QUIET = ['starting', 'probing', 'waiting', 'paused', 'grace', 'stopping', 'stopped', 'failed'];

async function replay(plan: Plan) {
  sut = new Sut();
  const current = sut;
  const { fx, clock } = current;
  const keys = buildKeys(resolveRedisConfig(server.options()));
  /** a task whose worker died long ago: any sweep with requeue takes it */
  let stale = '';
  let planted = 0;
  const plant = async () => {
    stale = `stale-${++planted}`;
    await redis.hset(keys.task(stale), { state: 'RUNNING', lease: 'l', worker: 'gone:1', attempt: '1', data: `{"id":"${stale}","function":"f"}`, update: '1' });
    await redis.zadd(keys.leases, 1, stale);
    await redis.sadd(keys.taskSet, stale);
  };
  await plant();
  /** a schedule due long ago: any firing takes it (and moves it a minute on) */
  const due = async () => {
    const { json } = checkSchedule('due', { every: 60_000 }, 'f', null, {});
    await redis.hset(keys.schedules.defs, 'due', json);
    await redis.zadd(keys.schedules.due, 1, 'due');
  };
  await due();

  const actor = createActor(logic, { input, clock, inspect: rootTransitions(() => current.sink) });
  const crashes: unknown[] = [];
  actor.subscribe({ error: (e) => crashes.push(e) });
  actor.start();
  await settle();

  const drive = async (e: AnyEventObject, before: Snap) => {
    const t = e.type;
    const invoked = /^xstate\.(done|error)\.actor\.(.+)$/.exec(t);
    if (t.startsWith('xstate.after.')) {
      const delay = t.split('.')[2];
      const ctx = actor.getSnapshot().context;
      clock.increment(delay === 'sweepDelay' ? sweepDelay(ctx) : delay === 'graceLeft' ? graceLeft(ctx) : ctx[delay as 'taskTimeout' | 'fetchWorkerInterval']);
    } else if (invoked) {
      const src = (before as any)._nodes.flatMap((n: any) => n.invoke).find((d: any) => d.id === invoked[2])?.src;
      const c = fx.pending(String(src));
      if (invoked[1] === 'error') c.reject(e.error);
      else if (src === 'sweep') {
        const { requeue, heldFrom } = c.input as { requeue: boolean; heldFrom?: number };
        // back from a loss within a taskTimeout: a task whose lease was live when Redis was lost
        // (stale now: Redis's clock has moved on since) is held, one stale before is not
        const live = `live-at-loss-${planted}`;
        if (heldFrom !== undefined) {
          await redis.hset(keys.task(live), { state: 'RUNNING', lease: 'l', worker: 'cut:1', attempt: '1', data: `{"id":"${live}","function":"f"}`, update: String(heldFrom - input.taskTimeout + 1) });
          await redis.zadd(keys.leases, heldFrom - input.taskTimeout + 1, live);
          await new Promise((r) => setTimeout(r, 3));
        }
        const r = await realSweep(keys, requeue, heldFrom);
        if (heldFrom !== undefined) {
          expect(await redis.hget(keys.task(live), 'state')).toBe('RUNNING');
          await redis.del(keys.task(live));
          await redis.zrem(keys.leases, live);
        }
        // (lost before its first sweep, it knows no time Redis was there: it holds everything)
        if (requeue && !(heldFrom !== undefined && heldFrom - input.taskTimeout < 1)) {
          // an active monitor does requeue a stale task
          expect(r.requeued).toEqual([stale]);
          expect(await redis.hget(keys.task(stale), 'state')).toBe('QUEUED');
          await plant();
        } else expect(r.requeued).toEqual([]);
        c.resolve(r);
      } else if (src === 'fireSchedules') {
        // an active monitor fires the schedule that is due
        const r = await fireDue(redis, keys, 'model-monitor');
        expect(r.firings.map((f) => [f.name, f.outcome])).toEqual([['due', 'fired']]);
        await due();
        c.resolve(r);
      } else c.resolve(e.output);
    } else if (t === 'STOP') actor.send({ type: 'STOP' });
    else {
      const producer = t === 'REDIS_LOST' ? 'redisWatch' : 'awaitRedis';
      const live = fx.live(producer);
      expect(live, `${t} comes from ${producer}`).toHaveLength(1);
      live[0]!.sendBack(e);
    }
  };

  const check = async (i: number) => {
    const s = actor.getSnapshot();
    const m = plan.expected[i]!;
    const where = `step ${i} of ${plan.name}`;
    expect(crashes, where).toEqual([]);
    expect(s.value, where).toEqual(m.snapshot.value);
    expect(s.status, where).toBe(m.snapshot.status);
    expect(current.sink, `${where}: transitions`).toEqual(m.transitions);
    // the effects running are exactly those of its active states; none once stopped
    expect(fx.liveSrcs(), `${where}: running effects`).toEqual(invokedSrcs(s));
    // only an active monitor requeues
    const state = typeof s.value === 'string' ? s.value : Object.keys(s.value)[0]!;
    if (QUIET.includes(state)) {
      const requeues = fx.calls.filter((c) => c.src === 'sweep' && c.input.requeue === true && (c.step === i || fx.running('sweep').includes(c)));
      expect(requeues, `${where}: a sweep with requeue in ${state}`).toEqual([]);
      expect(await redis.hget(keys.task(stale), 'state'), `${where}: the stale task was requeued in ${state}`).toBe('RUNNING');
      const firings = fx.calls.filter((c) => c.src === 'fireSchedules' && (c.step === i || fx.running('fireSchedules').includes(c)));
      expect(firings, `${where}: a firing in ${state}`).toEqual([]);
      expect(await redis.zscore(keys.schedules.due, 'due'), `${where}: the schedule fired in ${state}`).toBe('1');
    }
  };

  await check(0);
  for (const [k, e] of plan.events.entries()) {
    fx.step = k + 1;
    current.sink = [];
    await drive(e, plan.expected[k]!.snapshot);
    await settle();
    await check(k + 1);
  }
  expect(actor.getSnapshot().status).toBe('done');
  // a second STOP did not restart the disconnect
  expect(fx.calls.filter((c) => c.src === 'disconnect').length).toBeLessThanOrEqual(1);
}

describe('monitor machine: model-based paths replayed on the real sweep', () => {
  it('the paths cover every state and every transition of the machine', () => {
    const cov = coverageOf(
      plans.map((p) => p.expected),
      (i) => plans[i]!.events.length - plans[i]!.extension + 1,
    );
    expect(missing(definition.states, cov.states)).toEqual([]);
    expect(missing(definition.transitions, cov.transitions)).toEqual([]);
  });

  it.each(plans.map((p, i) => [i, p.name] as const))('path %i: %s', async (i) => {
    await replay(plans[i]!);
  });
});
