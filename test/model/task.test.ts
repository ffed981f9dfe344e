/**
 * Model-based test of the task machine (xstate/graph).
 *
 * Paths covering every edge of the abstract state graph (state value x outcome) are generated
 * with TestModel.getShortestPaths and replayed against the machine provided with controllable
 * effects: the function (runTask) is a promise the replay settles, and the END write
 * (finishTask) is the real one, finish.lua on a private redis-server, run when the path says the
 * write completes. At every step the replay checks that the actor took the model's transitions,
 * that the only effects running are those of its active states, and that Redis holds what the
 * steps so far wrote, nothing more. Once a task has ended (END or abandoned), nothing more
 * reaches Redis, and a late finish or renew with its lease changes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createActor, SimulatedClock, type AnyEventObject } from 'xstate';
import { taskMachine, type TaskInput, type TaskOutcome } from '../../machines/task.js';
import { buildKeys, type Keys } from '../../src/keys.js';
import { resolveRedisConfig } from '../../src/config.js';
import { finishTask, renewLeases } from '../../src/effects/leases.js';
import { safeJson, serializeError } from '../../src/wire.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';
import {
  cached,
  coverageOf,
  definitionOf,
  edgeCoveringPaths,
  Effects,
  eventsFor,
  invokedSrcs,
  missing,
  planOf,
  plansFor,
  pureStepper,
  rootTransitions,
  settle,
  type Payloads,
  type Plan,
  type Snap,
} from './harness.js';

const modelInput: TaskInput = { id: 't', attempt: 1, lease: 'lease-t', abortTimeout: 100, finishRetryDelay: 50 };

/** The abstract state: where the task is and how it would end. The reload counter is ignored. */
const abstract = (s: Snap) => JSON.stringify([s.value, s.context.outcome ?? null]);

const payloads: Payloads = {
  done: {
    runTask: () => [{ rows: 3 }],
    finishTask: () => [{ written: true }, { written: false }],
  },
  error: {
    runTask: () => [{ message: 'boom' }],
    // unreachable: Redis never saw the write; reply-lost: it did, but the reply never came back
    finishTask: () => [{ message: 'unreachable' }, { message: 'reply-lost' }],
  },
  events: {
    STOP: () => [{ type: 'STOP' }],
    RELOAD: () => [{ type: 'RELOAD' }],
    EVENT: () => [{ type: 'EVENT', name: 'resize', payload: { to: 4 } }],
    LEASE_LOST: () => [{ type: 'LEASE_LOST' }],
    HALT: () => [{ type: 'HALT' }],
  },
};

const definition = definitionOf(taskMachine);
const stepper = cached(pureStepper(taskMachine), abstract);
const events = (s: Snap) => eventsFor(s, payloads);
const paths = edgeCoveringPaths(taskMachine, { input: modelInput, abstract, events });
const generated = plansFor(paths, stepper, modelInput, events, abstract);
// Redis state the abstraction does not see: an END write that did reach Redis although its
// reply was lost. The retry must be answered "written" (finish.lua is idempotent for its lease).
const scenarios = [
  planOf(
    stepper,
    modelInput,
    [
      { type: 'xstate.done.actor.run', output: 'ok' },
      { type: 'xstate.error.actor.0.task.ending', error: { message: 'reply-lost' } },
      { type: 'xstate.after.finishRetryDelay.task.retryingEnd' },
      { type: 'xstate.done.actor.0.task.ending', output: { written: true } },
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

const payloadOf = (input: { outcome: TaskOutcome; result?: unknown; error?: unknown }) =>
  input.outcome === 'succeeded' ? safeJson(input.result) : JSON.stringify(serializeError(input.error ?? 'stopped'));

async function replay(plan: Plan, n: number) {
  const model = plan.expected;
  const id = `p${n}`;
  const lease = `lease-${id}`;
  const input: TaskInput = { ...modelInput, id, lease };
  // The claim as claim.lua leaves it: RUNNING under our lease, in the lease index.
  await redis.hset(keys.task(id), { state: 'RUNNING', lease, worker: 'w1', attempt: '1', data: '{}', update: '1' });
  await redis.zadd(keys.leases, 1, id);
  /** what the hash must say, given the writes the steps made so far */
  const exp = { state: 'RUNNING', lease, outcome: undefined as string | undefined };

  const fx = new Effects();
  const actionLog: string[] = [];
  const logic = taskMachine.provide({
    actions: {
      abortRun: () => actionLog.push('abortRun'),
      deliverEvent: () => actionLog.push('deliverEvent'),
      reportFinishError: () => actionLog.push('reportFinishError'),
      releaseTask: () => actionLog.push('releaseTask'),
    },
    actors: { runTask: fx.promise('runTask'), finishTask: fx.promise('finishTask') },
  });
  const clock = new SimulatedClock();
  let sink: string[] | undefined = [];
  const actor = createActor(logic, { input, clock, inspect: rootTransitions(() => sink) });
  const crashes: unknown[] = [];
  actor.subscribe({ error: (e) => crashes.push(e) });
  actor.start();
  await settle();

  const steal = async () => {
    // a monitor requeued the task and another worker claimed it
    exp.lease = `stolen-${id}`;
    await redis.hset(keys.task(id), { lease: exp.lease, worker: 'w2' });
  };
  const write = async (conn: Redis, c: { input: { outcome: TaskOutcome; result?: unknown; error?: unknown } }) => {
    const written = await finishTask(conn, keys, id, lease, c.input.outcome, payloadOf(c.input));
    if (written && exp.state === 'RUNNING') Object.assign(exp, { state: 'END', outcome: c.input.outcome });
    return written;
  };

  const drive = async (e: AnyEventObject) => {
    const t = e.type;
    if (t.startsWith('xstate.after.')) {
      const delay = t.split('.')[2] as 'abortTimeout' | 'finishRetryDelay';
      clock.increment(actor.getSnapshot().context[delay]);
    } else if (t === 'xstate.done.actor.run') fx.pending('runTask').resolve(e.output);
    else if (t === 'xstate.error.actor.run') fx.pending('runTask').reject(e.error);
    else if (t.startsWith('xstate.done.actor.')) {
      const c = fx.pending('finishTask');
      if (!e.output.written) await steal();
      const written = await write(redis, c);
      expect(written, 'finish.lua answers as the path says').toBe(e.output.written);
      c.resolve({ written });
    } else if (t.startsWith('xstate.error.actor.')) {
      const c = fx.pending('finishTask');
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
      // the heartbeat found the lease gone: make Redis say so first
      await steal();
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
    expect(sink, `${where}: transitions`).toEqual(m.transitions);
    // the effects running are exactly those of the active states; none once ended
    expect(fx.liveSrcs(), `${where}: running effects`).toEqual(invokedSrcs(s));
    if (s.status === 'done') expect(fx.running(), where).toEqual([]);
    // Redis holds exactly what the writes so far made
    const f = await footprint(id);
    expect({ state: f.hash.state, lease: f.hash.lease, outcome: f.hash.outcome }, `${where}: task hash`).toEqual(exp);
    if (s.matches('END')) {
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
  expect(fx.running()).toEqual([]);
  expect(await footprint(id)).toEqual(before);
  // ...and a late END write or heartbeat with its lease (a retry, a stale timer) changes nothing.
  if (before.hash.state === 'RUNNING' && before.hash.lease === lease) {
    // halted with its lease still valid: the monitor requeues it after taskTimeout
    await redis.hset(keys.task(id), 'state', 'QUEUED');
    await redis.hdel(keys.task(id), 'lease');
    await redis.zrem(keys.leases, id);
  }
  const settled = await footprint(id);
  const late = await finishTask(redis, keys, id, lease, 'failed', '"late"');
  // finish.lua answers "written" to a retry of an END that this lease did write, and writes nothing
  expect(late).toBe(settled.hash.state === 'END' && settled.hash.lease === lease);
  const renewed = await renewLeases(redis, keys, 'w1', [{ id, lease }]);
  expect(renewed.lost).toEqual([id]);
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

  it.each(plans.map((p, i) => [i, p.name] as const))('path %i: %s', async (i) => {
    await replay(plans[i]!, i);
  });
});
