/**
 * Model-based test of the task machine (xstate/graph).
 *
 * The machine runs its effects as named actions that report back by events: `startRun` runs the
 * function for run number `context.run`, which reports RUN_DONE or RUN_FAILED tagged with that
 * number, and `writeEnd` makes the END write, which reports ENDED or END_FAILED. The model is the
 * machine composed with the runs in flight (the functions that have not reported yet), so that
 * it offers a run's report only while that run can still send one: the current run's, and an
 * older run's that a reload left behind (it outlived its abortTimeout), which must be ignored.
 *
 * Paths covering every edge of the abstract state graph (state value x outcome x "an older run
 * is in flight") are generated with TestModel.getShortestPaths and replayed against the machine
 * provided with controllable effects: `startRun` records a run the replay settles (its report
 * then reaches the actor as the runtime's does), and `writeEnd` records an END write that the
 * replay makes for real, finish.lua on a private redis-server with the call's input, when the
 * path says the write completes, reporting ENDED or END_FAILED. At every step the replay checks
 * that the actor took the model's transitions, that the functions running are exactly the runs
 * in flight (only the current one, and only while working, not aborted), that an END write is
 * on its way exactly in ending, that an older run's report changes nothing, and that Redis holds
 * what the steps so far wrote, nothing more. Once a task has ended (END or abandoned), nothing
 * more reaches Redis, and a late finish (the END write still on its way, or a retry) or renew
 * with its lease changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createActor, SimulatedClock, type AnyEventObject, type StateValue } from 'xstate';
import { taskMachine, type TaskContext, type TaskInput, type TaskOutcome } from '../../machines/task.js';
import { compileMachine } from '../../actors/compiled-machine.js';
import { MachineRecord } from '../../actors/machine-record.js';
import { buildKeys, type Keys } from '../../src/keys.js';
import { resolveRedisConfig } from '../../src/config.js';
import { renewLeases } from '../../src/effects/leases.js';
import { finishTasks, type Ending } from '../../src/effects/end-batch.js';
import { safeJson, serializeError } from '../../src/wire.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import {
  cached,
  coverageOf,
  definitionOf,
  edgeCoveringPaths,
  Effects,
  eventsFor,
  logicOf,
  missing,
  planOf,
  plansFor,
  pureStepper,
  reportingVia,
  rootTransitions,
  settle,
  type Call,
  type Payloads,
  type Plan,
  type Snap,
  type StepResult,
  type Stepper,
} from './harness.js';

// two attempts: a failure of the first is retried, unless it is a NonRetryableError
const modelInput: TaskInput = { id: 't', attempt: 1, attempts: 2, lease: 'lease-t', abortTimeout: 100, finishRetryDelay: 50 };

/** what a function throws to end its task at once, whatever attempts are left */
const nonRetryable = () => Object.assign(new Error('bad input'), { name: 'NonRetryableError' });

/** the runs whose function has not reported yet (kept by the model beside the machine's context) */
const inflight = (s: Snap): number[] => s.context.inflight ?? [];
/** the newest run in flight that a reload has replaced, if any */
const olderRun = (s: Snap): number | undefined => inflight(s).filter((r) => r < s.context.run).at(-1);

/**
 * The abstract state: where the task is, how it would end, while RUNNING, whether an older run
 * is still in flight, and while halting, whether it was told to stop. The reload counter is ignored.
 */
const abstract = (s: Snap) => JSON.stringify([s.value, s.context.outcome ?? null, s.matches('RUNNING') && olderRun(s) !== undefined, s.context.toldStop]);

/** a run's reports: the current run's, and the newest replaced run's while it is in flight */
const reports = (s: Snap, make: (run: number) => AnyEventObject): AnyEventObject[] => {
  if (!inflight(s).includes(s.context.run)) throw new Error(`model: run ${s.context.run} is RUNNING but not in flight`);
  const older = olderRun(s);
  return [make(s.context.run), ...(older === undefined ? [] : [make(older)])];
};

const payloads: Payloads = {
  done: {},
  error: {},
  events: {
    RUN_DONE: (s) => reports(s, (run) => ({ type: 'RUN_DONE', run, output: { rows: 3 } })),
    RUN_FAILED: (s) => [
      ...reports(s, (run) => ({ type: 'RUN_FAILED', run, error: { message: 'boom' } })),
      ...reports(s, (run) => ({ type: 'RUN_FAILED', run, error: nonRetryable() })),
    ],
    ENDED: () => [
      { type: 'ENDED', written: true },
      { type: 'ENDED', written: false },
    ],
    // unreachable: Redis never saw the write; reply-lost: it did, but the reply never came back
    END_FAILED: () => [
      { type: 'END_FAILED', error: { message: 'unreachable' } },
      { type: 'END_FAILED', error: { message: 'reply-lost' } },
    ],
    STOP: () => [{ type: 'STOP' }],
    RELOAD: () => [{ type: 'RELOAD' }],
    EVENT: () => [{ type: 'EVENT', name: 'resize', payload: { to: 4 } }],
    LEASE_LOST: () => [{ type: 'LEASE_LOST' }],
    HALT: () => [{ type: 'HALT' }],
    // the runtime's per-attempt timer (or a run that settled past its deadline)
    TIMEOUT: () => [{ type: 'TIMEOUT', error: { name: 'TimeoutError', code: 'ERR_TIMEOUT', message: 'timed out' } }],
  },
};

const isReport = (e: AnyEventObject): e is AnyEventObject & { run: number } => e.type === 'RUN_DONE' || e.type === 'RUN_FAILED';

/**
 * The machine composed with the runs in flight: a run enters when a step executes startRun and
 * leaves when it reports (whether or not the machine takes its report).
 */
function withRuns(base: Stepper): Stepper {
  const track = (before: number[], e: AnyEventObject | undefined, r: StepResult): StepResult => {
    let runs = e && isReport(e) ? before.filter((n) => n !== e.run) : before;
    if (r.actions.some((a) => a.type === 'startRun')) runs = [...runs, r.snapshot.context.run as number];
    return { ...r, snapshot: { ...r.snapshot, context: { ...r.snapshot.context, inflight: runs } } as Snap };
  };
  return {
    init: (i) => track([], undefined, base.init(i)),
    step: (s, e) => track(inflight(s), e, base.step(s, e)),
  };
}

const definition = definitionOf(taskMachine);
// cached on the whole context (runs in flight and reload counter included): the replay drives
// each run's report by its number, so the expected snapshots must carry the real ones
const stepper = cached(withRuns(pureStepper(taskMachine)), (s) => JSON.stringify([s.value, s.context]));
const events = (s: Snap) => eventsFor(s, payloads);
const paths = edgeCoveringPaths(logicOf(taskMachine, stepper), { input: modelInput, abstract, events });
// and the task's last attempt: a failure or a timeout then ends it (no retry)
const lastAttempt: TaskInput = { ...modelInput, attempt: 2 };
const generated = [
  ...plansFor(paths, stepper, modelInput, events, abstract),
  ...plansFor(edgeCoveringPaths(logicOf(taskMachine, stepper), { input: lastAttempt, abstract, events }), stepper, lastAttempt, events, abstract).map((p) => ({
    ...p,
    name: `last attempt: ${p.name}`,
  })),
];
// Redis state the abstraction does not see: an END write that did reach Redis although its
// reply was lost. The retry must be answered "written" (finish.lua is idempotent for its lease).
const scenarios = [
  planOf(
    stepper,
    modelInput,
    [
      { type: 'RUN_DONE', run: 0, output: 'ok' },
      { type: 'END_FAILED', error: { message: 'reply-lost' } },
      { type: 'xstate.after.finishRetryDelay.task.retryingEnd' },
      { type: 'ENDED', written: true },
    ],
    'scenario: the END write reached Redis but its reply was lost; the retry is answered "written"',
  ),
];
const plans = [...generated, ...scenarios];

let server: RedisServer;
let redis: Redis;
/** a connection to a port nobody listens on: the real effect failing the real way */
let unreachable: Redis;
let keys: Keys;

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  keys = buildKeys(resolveRedisConfig(server.options()));
  unreachable = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  unreachable.on('error', () => {});
});

afterAll(async () => {
  unreachable?.disconnect();
  await server?.stop();
});

/** what Redis holds for one task: its hash, its lease deadline, its place in the ended list */
async function footprint(id: string) {
  const [hash, lease, ended] = await Promise.all([redis.hgetall(keys.task(id)), redis.zscore(keys.leases, id), redis.lrange(keys.ended, 0, -1)]);
  return { hash, lease, ended: ended.filter((x) => x === id).length };
}

/** finish.lua for one task, as the worker's end batch sends it: false when fenced */
async function finishOne(conn: Redis, ending: Ending): Promise<boolean> {
  const [written] = await finishTasks(conn, keys, [ending]);
  return written === true;
}

const payloadOf = (input: { outcome: TaskOutcome; result?: unknown; error?: unknown }) =>
  input.outcome === 'succeeded' ? safeJson(input.result) : JSON.stringify(serializeError(input.error ?? 'stopped'));

type EndInput = { id: string; lease: string; outcome: TaskOutcome; result?: unknown; error?: unknown };

/**
 * `interpreter`: the task machine as xstate interprets it, or as the worker runs it (a record,
 * actors/machine-record.ts, of the compiled logic, actors/compiled-machine.ts); both must take
 * the same steps.
 */
async function replay(plan: Plan, n: number, interpreter: 'xstate' | 'compiled') {
  const model = plan.expected;
  const id = `p${n}-${interpreter}`;
  const lease = `lease-${id}`;
  // (the attempt the plan was made for: its first snapshot's)
  const input: TaskInput = { ...modelInput, attempt: (model[0]!.snapshot.context as TaskInput).attempt, id, lease };
  // The claim as claim.lua leaves it: RUNNING under our lease, in the lease index.
  await redis.hset(keys.task(id), { state: 'RUNNING', lease, worker: 'w1', attempt: '1', data: '{}', update: '1' });
  await redis.zadd(keys.leases, 1, id);
  /** what the hash must say, given the writes the steps made so far */
  const exp = { state: 'RUNNING', lease, outcome: undefined as string | undefined };

  const fx = new Effects();
  const actionLog: string[] = [];
  const runs = () => fx.calls.filter((c) => c.src === 'startRun') as Array<Call<{ id: string; run: number }>>;
  const logic = taskMachine.provide({
    actions: {
      // as the runtime: the function of run `context.run` reports RUN_DONE / RUN_FAILED with it
      startRun: reportingVia('startRun', () => fx, (c: { id: string; run: number }) => ({ id: c.id, run: c.run }), {
        done: (output, i) => ({ type: 'RUN_DONE', run: i.run, output }),
        error: (error, i) => ({ type: 'RUN_FAILED', run: i.run, error }),
      }),
      // the fenced END write, made by the replay with this input; reports ENDED / END_FAILED
      writeEnd: reportingVia(
        'writeEnd',
        () => fx,
        (c: EndInput): EndInput => ({ id: c.id, lease: c.lease, outcome: c.outcome ?? 'failed', result: c.result, error: c.error }),
        {
          done: (written: boolean) => ({ type: 'ENDED', written }),
          error: (error) => ({ type: 'END_FAILED', error }),
        },
      ),
      // as the runtime: fire the signal of the latest run, unless it has settled
      abortRun: () => {
        actionLog.push('abortRun');
        const last = runs().at(-1);
        if (last?.status === 'pending') last.abort(new Error('aborted'));
      },
      deliverEvent: () => actionLog.push('deliverEvent'),
      detachRun: () => actionLog.push('detachRun'),
      reportFinishError: () => actionLog.push('reportFinishError'),
      markToldStop: () => actionLog.push('markToldStop'),
      releaseTask: () => actionLog.push('releaseTask'),
    },
  });
  const clock = new SimulatedClock();
  let sink: string[] | undefined = [];
  const crashes: unknown[] = [];
  let actor: {
    getSnapshot(): { status: string; value: unknown; context: TaskContext; output: unknown; matches(v: StateValue): boolean };
    send(e: AnyEventObject): void;
    stop(): void;
  };
  if (interpreter === 'xstate') {
    const a = createActor(logic, { input, clock, inspect: rootTransitions(() => sink) });
    a.subscribe({ error: (e) => crashes.push(e) });
    actor = a.start();
  } else {
    const owner = { done: () => {}, crashed: (_: unknown, e: unknown) => void crashes.push(e), inspect: rootTransitions(() => sink, true) };
    actor = new MachineRecord<TaskContext>(compileMachine(logic), input, owner, id, clock).start();
  }
  await settle();

  const steal = async () => {
    // a monitor requeued the task and another worker claimed it
    exp.lease = `stolen-${id}`;
    await redis.hset(keys.task(id), { lease: exp.lease, worker: 'w2' });
  };
  const write = async (conn: Redis, c: Call<EndInput>) => {
    const written = await finishOne(conn, { id: c.input.id, lease: c.input.lease, outcome: c.input.outcome === 'retry' ? 'retry:0' : c.input.outcome, payloadJson: payloadOf(c.input) });
    // a retry leaves the task DELAYED, its lease gone, for the claim that promotes it when due
    if (written && exp.state === 'RUNNING') Object.assign(exp, c.input.outcome === 'retry' ? { state: 'DELAYED', lease: undefined, outcome: undefined } : { state: 'END', outcome: c.input.outcome });
    return written;
  };
  /** the one run with this number that has not reported yet */
  const runOf = (run: number) => {
    const r = fx.unsettled('startRun').filter((c) => c.input.run === run);
    expect(r, `one run ${run} in flight`).toHaveLength(1);
    return r[0]!;
  };
  /** the one END write on its way */
  const endWrite = () => {
    const w = fx.unsettled('writeEnd');
    expect(w, 'one END write on its way').toHaveLength(1);
    return w[0]! as Call<EndInput>;
  };

  const drive = async (e: AnyEventObject) => {
    const t = e.type;
    if (t.startsWith('xstate.after.')) {
      const delay = t.split('.')[2] as 'abortTimeout' | 'finishRetryDelay';
      clock.increment(actor.getSnapshot().context[delay]);
    } else if (t === 'RUN_DONE') runOf(e.run).resolve(e.output);
    else if (t === 'RUN_FAILED') runOf(e.run).reject(e.error);
    else if (t === 'ENDED') {
      const c = endWrite();
      if (!e.written) await steal();
      const written = await write(redis, c);
      expect(written, 'finish.lua answers as the path says').toBe(e.written);
      c.resolve(written);
    } else if (t === 'END_FAILED') {
      const c = endWrite();
      if (e.error.message === 'reply-lost') {
        await write(redis, c);
        c.reject(new Error('Command timed out'));
      } else {
        const err = await write(unreachable, c).then(
          () => new Error('the unreachable connection answered'),
          (x: unknown) => x,
        );
        c.reject(err);
      }
    } else if (t === 'LEASE_LOST') {
      // the heartbeat found the lease gone: make Redis say so first. With an END on its way the
      // END's answer decides (a lease gone because that END was written looks the same): the
      // lease is taken, if the path says refused, when its ENDED comes
      const s = actor.getSnapshot().value;
      if (s !== 'ending' && s !== 'retryingEnd') await steal();
      actor.send({ type: 'LEASE_LOST' });
    } else actor.send(e as never);
  };

  let endedAt: Awaited<ReturnType<typeof footprint>> | undefined;
  const check = async (i: number) => {
    const s = actor.getSnapshot();
    const m = model[i]!;
    const where = `step ${i} of ${plan.name}`;
    expect(crashes, where).toEqual([]);
    expect(s.value, where).toEqual(m.snapshot.value);
    expect(s.status, where).toBe(m.snapshot.status);
    expect(s.context.outcome, where).toBe(m.snapshot.context.outcome);
    expect(s.context.run, `${where}: run`).toBe(m.snapshot.context.run);
    expect(sink, `${where}: transitions`).toEqual(m.transitions);
    // a report from a run that a reload replaced changes nothing
    const e = plan.events[i - 1];
    if (e && isReport(e) && e.run < model[i - 1]!.snapshot.context.run) {
      const was = model[i - 1]!.snapshot;
      expect(sink, `${where}: a replaced run's report is ignored`).toEqual([]);
      expect([s.value, s.context.run, s.context.outcome], `${where}: a replaced run's report is ignored`).toEqual([was.value, was.context.run, was.context.outcome]);
    }
    // one function started per run, in order; those that have not reported are the runs in
    // flight, and only the current run's, while working, is not aborted
    expect(
      runs().map((c) => c.input.run),
      `${where}: runs started`,
    ).toEqual([...Array(s.context.run + 1).keys()]);
    expect(
      fx.unsettled('startRun').map((c) => c.input.run),
      `${where}: runs in flight`,
    ).toEqual(inflight(m.snapshot));
    expect(
      fx.running('startRun').map((c) => c.input.run),
      `${where}: functions not aborted`,
    ).toEqual(s.matches({ RUNNING: 'working' }) ? [s.context.run] : []);
    // an END write is on its way exactly in ending (one may be left on its way by a task
    // abandoned while writing), made with the outcome the task ends with
    const writes = fx.unsettled('writeEnd') as Array<Call<EndInput>>;
    if (s.matches('ending')) {
      expect(writes, `${where}: END write on its way`).toHaveLength(1);
      expect(writes[0]!.input, `${where}: END write`).toMatchObject({ id, lease, outcome: s.context.outcome });
    } else if (s.matches('abandoned')) expect(writes.length, `${where}: END writes on their way`).toBeLessThanOrEqual(1);
    else expect(writes, `${where}: END writes on their way`).toEqual([]);
    // Redis holds exactly what the writes so far made
    const f = await footprint(id);
    expect({ state: f.hash.state, lease: f.hash.lease, outcome: f.hash.outcome }, `${where}: task hash`).toEqual(exp);
    if (s.matches('END') && s.context.outcome === 'retry') {
      expect(f.hash.state, `${where}: a retry is DELAYED`).toBe('DELAYED');
      expect(f.lease, `${where}: a retry leaves the lease index`).toBeNull();
      expect(f.ended, `${where}: a retry is not queued for cleanup`).toBe(0);
    } else if (s.matches('END')) {
      expect(f.hash.outcome, where).toBe(s.context.outcome);
      expect(f.lease, `${where}: END leaves the lease index`).toBeNull();
      expect(f.ended, `${where}: END is queued for cleanup once`).toBe(1);
    }
    // an ended task takes no writes
    if (s.status === 'done') {
      if (endedAt) expect(f, `${where}: written after the task ended`).toEqual(endedAt);
      endedAt = f;
    }
  };

  await check(0);
  for (const [k, e] of plan.events.entries()) {
    fx.step = k + 1;
    sink = [];
    await drive(e);
    await settle();
    await check(k + 1);
  }

  // The task ended: nothing it started may write now, however long we wait...
  const s = actor.getSnapshot();
  expect(s.status).toBe('done');
  expect(s.output).toEqual({ id, end: s.matches('abandoned') ? 'abandoned' : s.context.outcome });
  expect(actionLog.filter((a) => a === 'releaseTask')).toEqual(['releaseTask']);
  const before = await footprint(id);
  for (let k = 0; k < 5; k++) {
    clock.increment(10 * (input.abortTimeout + input.finishRetryDelay));
    await settle();
  }
  expect(fx.running('startRun')).toEqual([]);
  expect(await footprint(id)).toEqual(before);
  // ...and a late END write or heartbeat with its lease (a retry, a stale timer) changes nothing.
  if (before.hash.state === 'RUNNING' && before.hash.lease === lease) {
    // halted with its lease still valid: the monitor requeues it after taskTimeout
    await redis.hset(keys.task(id), 'state', 'QUEUED');
    await redis.hdel(keys.task(id), 'lease');
    await redis.zrem(keys.leases, id);
  }
  const settled = await footprint(id);
  // finish.lua answers "written" to a resend of an END (or a retry) that this lease did write, and
  // writes nothing
  const answer = (settled.hash.state === 'END' && settled.hash.lease === lease) || (settled.hash.state !== 'RUNNING' && settled.hash.retry_lease === lease);
  const late = await finishOne(redis, { id, lease, outcome: 'failed', payloadJson: '"late"' });
  expect(late).toBe(answer);
  // the END write a task abandoned while writing left on its way lands now: the same, and its
  // report, after the task ended, is dropped
  for (const c of fx.unsettled('writeEnd') as Array<Call<EndInput>>) {
    expect(await write(redis, c)).toBe(answer);
    c.resolve(answer);
  }
  // functions aborted or replaced that settle late report to an ended task: dropped too
  for (const c of fx.unsettled('startRun')) c.resolve('late');
  await settle();
  expect(crashes).toEqual([]);
  expect(actor.getSnapshot().status).toBe('done');
  // a heartbeat of the ended claim: lost when someone else holds the task, or it is queued again;
  // not when this claim's own END (or retry) is there (an END crossing a heartbeat is no loss)
  const renewed = await renewLeases(redis, keys, 'w1', [{ id, lease }]);
  const ownEnd = (settled.hash.state === 'END' && settled.hash.lease === lease) || settled.hash.retry_lease === lease;
  expect(renewed.lost).toEqual(ownEnd ? [] : [id]);
  expect(await footprint(id)).toEqual(settled);
  actor.stop();
}

describe('task machine: model-based paths replayed on the real END write', () => {
  it('the paths cover every state and every transition of the machine', () => {
    // counted on the generated paths alone, not on their extensions to an end
    const cov = coverageOf(
      generated.map((p) => p.expected),
      (i) => generated[i]!.events.length - generated[i]!.extension + 1,
    );
    expect(missing(definition.states, cov.states)).toEqual([]);
    expect(missing(definition.transitions, cov.transitions)).toEqual([]);
  });

  // Every assign copies the context (actors/compiled-machine.ts): a field gained on the way (an
  // outcome, an error) would be one more shape for that copy, and past four its site copies every
  // context by V8's slow path, about ten times the cost (bench/analysis.md).
  it("keeps the context's fields as they were made, on every path", () => {
    // (`inflight` is this file's: the runs the replay tracks)
    const fields = (s: Snap) => Object.keys(s.context).filter((k) => k !== 'inflight').sort();
    // (as the context function makes them, before any entry action could add one)
    const made = Object.keys((taskMachine.config.context as (a: { input: unknown }) => object)({ input: modelInput })).sort();
    for (const p of plans) for (const step of p.expected) expect(fields(step.snapshot), p.name).toEqual(made);
  });

  it.each(plans.map((p, i) => [i, p.name] as const))('path %i: %s', async (i) => {
    await replay(plans[i]!, i, 'xstate');
  });

  // the worker's task machines: the same machine, compiled records (actors/machine-record.ts)
  it.each(plans.map((p, i) => [i, p.name] as const))('compiled, path %i: %s', async (i) => {
    await replay(plans[i]!, i, 'compiled');
  });
});
