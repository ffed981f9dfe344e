/**
 * The worker machine, with every effect (and the child task actors' effects) replaced by fakes.
 *
 * Layer 1 asks the pure `transition()` which effects a step requests. Layer 2 runs the worker
 * as an actor on a SimulatedClock with fakes that record their calls; events the worker sends to
 * the child task actors are recorded through the `inspect` option. A child task's effects are
 * named actions (`startRun`, `writeEnd`, ...) whose fakes report back to the task actor by events,
 * as the runtime does.
 */
import { describe, it, expect } from 'vitest';
import {
  createActor,
  fromCallback,
  initialTransition,
  transition,
  SimulatedClock,
  type AnyActorRef,
  type AnyEventObject,
} from 'xstate';
import { AWAITING_REDIS, TALKING_TO_REDIS, workerMachine, type ClaimedTask, type PeerProbe, type WorkerEvent, type WorkerInput } from '../../machines/worker.js';
import { taskMachine, type TaskMachineEvent, type TaskOutcome } from '../../machines/task.js';
import { compileMachine } from '../../actors/compiled-machine.js';
import { TaskMachines } from '../../actors/task-machines.js';
import { promiseEffect } from '../../actors/promise-effect.js';
import { afterEvent, childOf, doneEvent, errorEvent, inputOf, invoked, scheduled } from './steps.js';

const input: WorkerInput = {
  concurrency: 2,
  lane: 2,
  fetchTaskInterval: 200,
  fetchWorkerInterval: 300,
  partitionPercentage: 60,
  stopGrace: 500,
  abortTimeout: 100,
  finishRetryDelay: 50,
};

const claimed = (...ids: string[]): ClaimedTask[] => ids.map((id) => ({ id, attempt: 1, lease: `lease-${id}` }));

// ---------------------------------------------------------------------------------------------
// Helpers for the pure layer
// ---------------------------------------------------------------------------------------------

type Snap = ReturnType<typeof initialTransition<typeof workerMachine>>[0];
type Actions = ReturnType<typeof transition<typeof workerMachine>>[1];

/** named effects of a step, but for task actors started and told (see `started` and `sent`) */
const named = (actions: Actions) => actions.map((a) => a.type).filter((t) => !t.startsWith('xstate.') && t !== 'tellTask' && t !== 'startTasks');
/** ids of the actors a step stops */
const stopped = (actions: Actions) =>
  actions.filter((a) => (a.type as string) === 'xstate.stopChild').map((a) => (a.params as unknown as { id: string }).id);
/** events a step sends to its task actors (tellTask), as "task.<id>:TYPE" */
const sent = (actions: Actions) =>
  actions
    .filter((a) => a.type === 'tellTask')
    .map((a) => {
      const p = a.params as { id: string; event: { type: string } };
      return `task.${p.id}:${p.event.type}`;
    });
const sentEvents = (actions: Actions) => actions.filter((a) => a.type === 'tellTask').map((a) => (a.params as { event: unknown }).event);
/** the claimed tasks a step starts task actors for (startTasks) */
const started = (actions: Actions) => actions.filter((a) => a.type === 'startTasks').flatMap((a) => (a.params as { tasks: ClaimedTask[] }).tasks);

/** the claims a step asks for (requestClaim), each as its params */
const claims = (actions: Actions) => actions.filter((a) => a.type === 'requestClaim').map((a) => a.params as { free: number; round: number });
/** the answer to the oldest claim on its way (or, with `asked`, to one that asked that many) */
const answer = (snap: Snap, tasks: ClaimedTask[], asked = snap.context.asking[0]!): WorkerEvent => ({ type: 'CLAIMED', tasks, asked, round: snap.context.round });
const claimFailed = (snap: Snap, asked = snap.context.asking[0]!): WorkerEvent => ({ type: 'CLAIM_FAILED', error: new Error('fake failure'), asked, round: snap.context.round });
const done = doneEvent<WorkerEvent>;
const failed = errorEvent<WorkerEvent>;
/** the runtime tells the worker that these task machines ended */
const taskEnded = (...ids: string[]): WorkerEvent => ({ type: 'TASKS_ENDED', ids });
const after = afterEvent<WorkerEvent>;

function step(snap: Snap, ...events: WorkerEvent[]): [Snap, Actions] {
  let acts: Actions = [];
  for (const e of events) [snap, acts] = transition(workerMachine, snap, e);
  return [snap, acts];
}
/** a new worker whose control subscription Redis has acknowledged (as it is, mostly, before it has registered) */
const starting = (i: WorkerInput = input) => step(initialTransition(workerMachine, i)[0], { type: 'CONTROL_READY' })[0];
const fetching = (i: WorkerInput = input) => {
  const s = starting(i);
  return step(s, done(s, 'register'))[0];
};
/** connected with these tasks claimed (in one claim) */
const withTasks = (ids: string[], i: WorkerInput = input) => {
  const s = fetching(i);
  return step(s, answer(s, claimed(...ids)))[0];
};
const probing = (ids: string[] = ['a', 'b']) => step(withTasks(ids), { type: 'REDIS_LOST' })[0];
const probeResult = (s: Snap, p: PeerProbe) => step(s, done(s, 'probePeers', p));

describe('worker machine: which effects each step asks for (pure)', () => {
  it('a new worker listens for control messages and Redis state, and registers', () => {
    const [snap, actions] = initialTransition(workerMachine, input);
    expect(snap.value).toBe('starting');
    expect(invoked(actions)).toEqual(['controlListener', 'redisWatch', 'register']);
    expect(snap.context.running).toEqual([]);
  });

  it('once registered it heartbeats, keeps its peer list and claims up to its concurrency', () => {
    const s = starting();
    const [snap, actions] = step(s, done(s, 'register'));
    expect(snap.value).toEqual({ connected: 'fetching' });
    expect(invoked(actions)).toEqual(['heartbeat', 'refreshPeers']);
    expect(claims(actions)).toEqual([{ free: 2, round: 1 }]);
    expect(snap.context.asking).toEqual([2]);
  });

  it('a worker that cannot register fails for good and reports why', () => {
    const s = starting();
    const [snap, actions] = step(s, failed(s, 'register'));
    expect(snap.value).toBe('failed');
    expect(snap.status).toBe('done');
    expect(named(actions)).toEqual(['reportError', 'stopTasks']);
  });

  describe('no claim while the control subscription is not acknowledged (a stop sent then would be lost)', () => {
    const deaf = () => initialTransition(workerMachine, input)[0];
    const ready: WorkerEvent = { type: 'CONTROL_READY' };
    const lost: WorkerEvent = { type: 'CONTROL_LOST' };

    it('registered before Redis acknowledged the subscription: connected, claiming nothing until it has', () => {
      const s = deaf();
      const [snap, actions] = step(s, done(s, 'register'));
      expect(snap.value).toEqual({ connected: 'fetching' });
      expect(snap.context.listening).toBe(false);
      expect(claims(actions)).toEqual([]);
      const [heard, heardActions] = step(snap, ready);
      expect(claims(heardActions)).toEqual([{ free: 2, round: 1 }]);
      expect(heard.context.asking).toEqual([2]);
    });

    it('the subscription lost while waiting on the queue: the wait is given up, and claims resume once it is made again', () => {
      const f = fetching();
      const [w] = step(f, answer(f, []));
      expect(w.value).toEqual({ connected: 'waiting' });
      const [snap, actions] = step(w, lost);
      expect(snap.value).toEqual({ connected: 'fetching' });
      expect(stopped(actions)).toEqual([childOf(w, 'waitForTask')]);
      expect(claims(actions)).toEqual([]);
      const [, again] = step(snap, ready);
      expect(claims(again)).toEqual([{ free: 2, round: 1 }]);
    });

    it('lost with a claim on its way: its tasks run, and no claim (nor queue wait) follows until it is made again', () => {
      const f = fetching({ ...input, concurrency: 3, lane: 3 });
      const [took, tookActions] = step(f, lost, answer(f, claimed('a')));
      expect(started(tookActions)).toEqual(claimed('a'));
      expect(claims(tookActions)).toEqual([]);
      const [empty, emptyActions] = step(f, lost, answer(f, []));
      expect(empty.value).toEqual({ connected: 'fetching' });
      expect(invoked(emptyActions)).toEqual([]);
      for (const s of [took, empty]) expect(claims(step(s, ready)[1]).length).toBe(1);
    });

    it('Redis back with the subscription not made again yet: reconciled, then no claim until it is', () => {
      const p = step(withTasks(['a']), lost)[0];
      const [redisLost] = step(p, { type: 'REDIS_LOST' });
      const [back] = step(redisLost, { type: 'REDIS_BACK' });
      expect(back.value).toBe('reconciling');
      const [snap, actions] = step(back, done(back, 'reconcile', { lost: [] }));
      expect(snap.value).toEqual({ connected: 'fetching' });
      expect(claims(actions)).toEqual([]);
      expect(claims(step(snap, ready)[1])).toEqual([{ free: 1, round: 2 }]);
    });
  });

  it('a claim that fills every slot starts one task actor per task and asks for nothing more', () => {
    const s = fetching();
    const [snap, actions] = step(s, answer(s, claimed('a', 'b')));
    expect(snap.value).toEqual({ connected: 'fetching' });
    expect(snap.context.running).toEqual(['a', 'b']);
    expect(snap.context.asking).toEqual([]);
    expect(started(actions)).toEqual(claimed('a', 'b'));
    expect(claims(actions)).toEqual([]);
  });

  it('a claim that leaves slots free claims again, for the free slots only', () => {
    const s = fetching({ ...input, concurrency: 3, lane: 3 });
    const [snap, actions] = step(s, answer(s, claimed('a')));
    expect(snap.value).toEqual({ connected: 'fetching' });
    expect(started(actions)).toEqual(claimed('a'));
    expect(claims(actions)).toEqual([{ free: 2, round: 1 }]);
  });

  it('one claim at a time without lanes: a slot freed while a claim is on its way waits for its answer', () => {
    const s = withTasks(['a']);
    expect(s.context.asking).toEqual([1]);
    const [settled, actions] = step(s, { type: 'TASKS_SETTLED', ids: ['a'] });
    expect(claims(actions)).toEqual([]);
    const [next, nextActions] = step(settled, answer(settled, claimed('b')));
    expect(next.context.running).toEqual(['a', 'b']);
    // a's slot is free again (its END is on its way): claimed once the claim before has answered
    expect(claims(nextActions)).toEqual([{ free: 1, round: 1 }]);
  });

  it('an empty claim makes the worker wait on the queue', () => {
    const s = fetching();
    const [snap, actions] = step(s, answer(s, []));
    expect(snap.value).toEqual({ connected: 'waiting' });
    expect(invoked(actions)).toEqual(['waitForTask']);
    expect(inputOf(actions, 'waitForTask')).toEqual({ free: 2 });
  });

  it('a queue wait that claims tasks starts them and claims again for the slots left', () => {
    const f = fetching({ ...input, concurrency: 3, lane: 3 });
    const [w] = step(f, answer(f, []));
    const [snap, actions] = step(w, done(w, 'waitForTask', { tasks: claimed('a') }));
    expect(snap.value).toEqual({ connected: 'fetching' });
    expect(started(actions)).toEqual(claimed('a'));
    expect(claims(actions)).toEqual([{ free: 2, round: 1 }]);
    // and one that claims nothing waits again
    const [again, againActions] = step(w, done(w, 'waitForTask', { tasks: [] }));
    expect(again.value).toEqual({ connected: 'waiting' });
    expect(invoked(againActions)).toEqual(['waitForTask']);
  });

  it('a failed claim is reported, its lost reply recovered, and the claim retried after fetchTaskInterval', () => {
    const s = fetching();
    const [rec, recActions] = step(s, claimFailed(s));
    expect(rec.value).toEqual({ connected: 'recovering' });
    expect(named(recActions)).toEqual(['reportError']);
    expect(invoked(recActions)).toEqual(['recoverClaims']);
    const [snap, actions] = step(rec, done(rec, 'recoverClaims'));
    expect(snap.value).toEqual({ connected: 'backoff' });
    expect(scheduled(actions)).toEqual({ 'xstate.after.fetchTaskInterval.worker.connected.backoff': 200 });
    const [next, nextActions] = step(snap, after('fetchTaskInterval', 'worker.connected.backoff'));
    expect(next.value).toEqual({ connected: 'fetching' });
    expect(claims(nextActions)).toEqual([{ free: 2, round: 1 }]);
    // a recovery that fails is reported; the worker backs off all the same
    const [again, againActions] = step(rec, failed(rec, 'recoverClaims'));
    expect(again.value).toEqual({ connected: 'backoff' });
    expect(named(againActions)).toEqual(['reportError']);
  });

  it('a failed wait for a task is recovered too', () => {
    const f = fetching();
    const [s] = step(f, answer(f, [])); // nothing queued: waiting
    expect(s.value).toEqual({ connected: 'waiting' });
    const [rec, actions] = step(s, failed(s, 'waitForTask'));
    expect(rec.value).toEqual({ connected: 'recovering' });
    expect(invoked(actions)).toEqual(['recoverClaims']);
  });

  it('a finished task is forgotten (its actor stopped itself) and a full worker fetches for the freed slot', () => {
    const [snap, actions] = step(withTasks(['a', 'b']), taskEnded('a'));
    expect(snap.context.running).toEqual(['b']);
    expect(snap.value).toEqual({ connected: 'fetching' });
    expect(claims(actions)).toEqual([{ free: 1, round: 1 }]);
  });

  it('a settled task frees its slot at once: the claim for it goes out as its END is written', () => {
    const [snap, actions] = step(withTasks(['a', 'b']), { type: 'TASKS_SETTLED', ids: ['a'] });
    expect(snap.context.settled).toEqual(['a']);
    expect(claims(actions)).toEqual([{ free: 1, round: 1 }]);
  });

  describe('lanes (lane < concurrency): two claims take turns with the worker', () => {
    const lanes = { ...input, concurrency: 4, lane: 2 };

    it('a claim asks for a lane, and a second goes out at once for the other lane', () => {
      const s = starting(lanes);
      const [snap, actions] = step(s, done(s, 'register'));
      expect(claims(actions)).toEqual([
        { free: 2, round: 1 },
        { free: 2, round: 1 },
      ]);
      expect(snap.context.asking).toEqual([2, 2]);
    });

    it('no third claim: freed slots wait for a claim to answer', () => {
      const s = fetching(lanes);
      const [one] = step(s, answer(s, claimed('a', 'b')));
      expect(one.context.asking).toEqual([2]);
      // a, b running, 2 asked: nothing free
      const [settled, actions] = step(one, { type: 'TASKS_SETTLED', ids: ['a'] });
      expect(claims(actions)).toEqual([]);
      // a whole lane free again: a second claim goes out, carrying a's and b's ENDs
      const [both, bothActions] = step(settled, { type: 'TASKS_SETTLED', ids: ['b'] });
      expect(claims(bothActions)).toEqual([{ free: 2, round: 1 }]);
      expect(both.context.asking).toEqual([2, 2]);
    });

    it('less than a lane free with one claim on its way: no second claim until it answers', () => {
      const s = fetching(lanes);
      const [one] = step(s, answer(s, claimed('a', 'b')), answer(s, claimed('c', 'd')));
      expect(one.context.running).toEqual(['a', 'b', 'c', 'd']);
      const [settledA, actions] = step(one, { type: 'TASKS_SETTLED', ids: ['a'] });
      expect(claims(actions)).toEqual([{ free: 1, round: 1 }]);
      const [settledB, actionsB] = step(settledA, { type: 'TASKS_SETTLED', ids: ['b'] });
      // one claim on its way and one slot free: less than a lane
      expect(claims(actionsB)).toEqual([]);
      expect(settledB.context.asking).toEqual([1]);
    });

    it('answers may come in either order: each frees what it asked for', () => {
      const wide = { ...input, concurrency: 5, lane: 3 };
      const s = fetching(wide);
      expect(s.context.asking).toEqual([3, 2]);
      const [second] = step(s, answer(s, claimed('a', 'b'), 2));
      expect(second.context.asking).toEqual([3]);
      const [first] = step(second, answer(second, claimed('c'), 3));
      expect(first.context.asking).toEqual([2]); // the claim for the 2 slots c's claim left
      expect(first.context.running).toEqual(['a', 'b', 'c']);
    });

    it('a claim that finds nothing while the other is on its way: no new claim until that one answers', () => {
      const s = fetching(lanes);
      const [empty, actions] = step(s, answer(s, []));
      expect(empty.value).toEqual({ connected: 'queueEmpty' });
      expect(claims(actions)).toEqual([]);
      // the other took tasks: fetching again, claiming for what is left
      const [next, nextActions] = step(empty, answer(empty, claimed('a')));
      expect(next.value).toEqual({ connected: 'fetching' });
      expect(started(nextActions)).toEqual(claimed('a'));
      expect(claims(nextActions)).toEqual([{ free: 2, round: 1 }]);
      // the other found nothing too: the queue has nothing for this worker, it waits on it
      const [none, noneActions] = step(empty, answer(empty, []));
      expect(none.value).toEqual({ connected: 'waiting' });
      expect(claims(noneActions)).toEqual([]);
      expect(invoked(noneActions)).toEqual(['waitForTask']);
      expect(inputOf(noneActions, 'waitForTask')).toEqual({ free: 4 });
    });

    it('a claim that fails while the other is on its way: that one is awaited (its tasks run), then the failure recovered', () => {
      const s = fetching(lanes);
      const [failing, actions] = step(s, claimFailed(s));
      expect(failing.value).toEqual({ connected: 'claimFailed' });
      expect(named(actions)).toEqual(['reportError']);
      expect(invoked(actions)).toEqual([]);
      const [rec, recActions] = step(failing, answer(failing, claimed('a', 'b')));
      expect(rec.value).toEqual({ connected: 'recovering' });
      expect(started(recActions)).toEqual(claimed('a', 'b'));
      expect(invoked(recActions)).toEqual(['recoverClaims']);
      // both failed
      const [both] = step(failing, claimFailed(failing));
      expect(both.value).toEqual({ connected: 'recovering' });
      expect(both.context.asking).toEqual([]);
    });
  });

  describe('lanes while alone (loneLane): two claims only while the swarm has no other worker', () => {
    const alone = { ...input, concurrency: 4, lane: 4, loneLane: 2 };
    const size = (workers: number): WorkerEvent => ({ type: 'SWARM_SIZE', workers });

    it('until a claim has counted the workers, one claim at a time', () => {
      const s = starting(alone);
      const [snap, actions] = step(s, done(s, 'register'));
      expect(claims(actions)).toEqual([{ free: 4, round: 1 }]);
      expect(snap.context.alone).toBe(false);
    });

    it('alone (the count is this worker, or none): a claim asks for a lane, and a second goes out for the other', () => {
      for (const workers of [1, 0]) {
        const s = starting(alone);
        const [snap, actions] = step(s, size(workers), done(s, 'register'));
        expect(claims(actions)).toEqual([
          { free: 2, round: 1 },
          { free: 2, round: 1 },
        ]);
        expect(snap.context.asking).toEqual([2, 2]);
      }
    });

    it('another worker counted: freed slots go out in one claim again, and the claims of the lanes on their way still answer', () => {
      const s0 = starting(alone);
      const [s] = step(s0, size(1), done(s0, 'register'));
      const [shared, none] = step(s, size(2));
      expect(claims(none)).toEqual([]);
      expect(shared.context.asking).toEqual([2, 2]);
      const [one] = step(shared, answer(shared, claimed('a', 'b')), answer(shared, claimed('c', 'd')));
      expect(one.context.asking).toEqual([]);
      const [settled, actions] = step(one, { type: 'TASKS_SETTLED', ids: ['a', 'b'] });
      expect(claims(actions)).toEqual([{ free: 2, round: 1 }]);
      // two slots free with a claim on its way: no second one, as without lanes
      const [, more] = step(settled, { type: 'TASKS_SETTLED', ids: ['c', 'd'] });
      expect(claims(more)).toEqual([]);
    });

    it('a worker without loneLane hears the count and claims as before', () => {
      const s0 = starting();
      const [snap, actions] = step(s0, size(1), done(s0, 'register'));
      expect(snap.context.alone).toBe(true);
      expect(claims(actions)).toEqual([{ free: 2, round: 1 }]);
    });
  });

  describe('an answer to a claim the worker moved on from', () => {
    it('after Redis was lost and found again: its tasks are handed back, not started', () => {
      const s = fetching();
      const old = answer(s, claimed('a'));
      const [down] = probeResult(step(s, { type: 'REDIS_LOST' })[0], { reached: 2, total: 2 });
      const [rec] = step(down, { type: 'REDIS_BACK' });
      const [again] = step(rec, done(rec, 'reconcile', { lost: [] }));
      expect(again.context.round).toBe(2);
      expect(again.context.asking).toEqual([2]);
      const [snap, actions] = step(again, old);
      expect(named(actions)).toEqual(['handBackClaimed']);
      expect(started(actions)).toEqual([]);
      expect(snap.context.running).toEqual([]);
      expect(snap.context.asking).toEqual([2]); // the new round's claim is still on its way
      // a stale failure changes nothing
      const [same, failActions] = step(again, { type: 'CLAIM_FAILED', error: new Error('fake failure'), asked: 2, round: 1 });
      expect(same.value).toEqual({ connected: 'fetching' });
      expect(failActions).toEqual([]);
    });

    it('a stopping worker waits for the answer of a claim from before Redis was lost, and hands its tasks back', () => {
      const s = fetching();
      const old = answer(s, claimed('a'));
      const [down] = probeResult(step(s, { type: 'REDIS_LOST' })[0], { reached: 2, total: 2 });
      const [rec] = step(down, { type: 'REDIS_BACK' });
      const [again] = step(rec, done(rec, 'reconcile', { lost: [] }));
      expect(again.context.behind).toBe(1);
      const [idle] = step(again, answer(again, [])); // this round's claim: nothing queued
      expect(idle.value).toEqual({ connected: 'waiting' });
      const [drain] = step(idle, { type: 'STOP' });
      expect(drain.value).toBe('draining');
      const [snap, actions] = step(drain, old);
      expect(named(actions)).toEqual(['handBackClaimed']);
      expect(snap.context.behind).toBe(0);
      expect(snap.value).toBe('deregistering');
      // an old claim that failed is awaited as well
      expect(step(drain, { type: 'CLAIM_FAILED', error: new Error('timeout'), asked: 2, round: 1 })[0].value).toBe('deregistering');
    });

    it.each([
      ['probing', (s: Snap) => step(s, { type: 'REDIS_LOST' })[0]],
      ['draining', (s: Snap) => step(s, { type: 'STOP' })[0]],
    ])('in %s: its tasks are handed back, not started', (_name, leave) => {
      const s = withTasks(['a'], { ...input, concurrency: 3, lane: 3 });
      const away = leave(s);
      const [snap, actions] = step(away, answer(s, claimed('b')));
      expect(named(actions)).toEqual(['handBackClaimed']);
      expect(started(actions)).toEqual([]);
      expect(snap.context.running).toEqual(['a']);
      expect(snap.context.asking).toEqual([]);
    });
  });

  it('in connected.fetching, REDIS_LOST stops claiming and heartbeating, probes the peers and waits for Redis', () => {
    const [snap, actions] = step(fetching(), { type: 'REDIS_LOST' });
    expect(snap.value).toBe('probing');
    expect(invoked(actions)).toEqual(['awaitRedis', 'probePeers']);
    const stoppedSrcs = stopped(actions);
    expect(stoppedSrcs).toEqual(expect.arrayContaining(['heartbeat', 'refreshPeers']));
    expect(stoppedSrcs).toHaveLength(2);
  });

  it('a worker cut off from most peers is partitioned: it halts every task', () => {
    // 1 of 4 peers = 25 % < 60 %
    const [snap, actions] = probeResult(probing(['a', 'b']), { reached: 1, total: 4 });
    expect(snap.value).toBe('partitioned');
    expect(workerMachine.getStateNodeById('worker.partitioned').definition.entry.map((a) => (a as { type: string }).type)).toContain('haltTasks');
    expect(sent(actions)).toEqual(['task.a:HALT', 'task.b:HALT']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.abortTimeout.worker.partitioned': 100 });
    expect(snap.context.lastProbe).toEqual({ reached: 1, total: 4 });
  });

  it('a partitioned worker is halted once its tasks are gone (or after abortTimeout)', () => {
    const [part] = probeResult(probing(['a', 'b']), { reached: 0, total: 4 });
    const [one] = step(part, taskEnded('a'));
    expect(one.value).toBe('partitioned');
    const [both] = step(one, taskEnded('b'));
    expect(both.value).toBe('halted');
    const [timedOut] = step(part, after('abortTimeout', 'worker.partitioned'));
    expect(timedOut.value).toBe('halted');
  });

  it('a partitioned worker with no task is halted at once', () => {
    const [snap] = probeResult(step(fetching(), { type: 'REDIS_LOST' })[0], { reached: 0, total: 3 });
    expect(snap.value).toBe('halted');
  });

  it.each([
    ['exactly partitionPercentage of the peers answer', { reached: 3, total: 5 }],
    ['every peer answers', { reached: 4, total: 4 }],
    ['no peer is known (total 0): an outage cannot be told from a partition', { reached: 0, total: 0 }],
  ])('Redis is down for everyone when %s: tasks keep running', (_why, probe) => {
    const [snap, actions] = probeResult(probing(['a', 'b']), probe);
    expect(snap.value).toBe('redisDown');
    expect(sent(actions)).toEqual([]);
    expect(scheduled(actions)).toEqual({ 'xstate.after.fetchWorkerInterval.worker.redisDown': 300 });
  });

  it('just below partitionPercentage is a partition', () => {
    // 59.99...% < 60 %
    const [snap] = probeResult(probing(['a']), { reached: 5999, total: 10000 });
    expect(snap.value).toBe('partitioned');
  });

  it('a probe that fails counts as a partition', () => {
    const s = probing(['a']);
    const [snap, actions] = step(s, failed(s, 'probePeers'));
    expect(snap.value).toBe('partitioned');
    expect(named(actions)).toEqual(['reportError']);
    expect(sent(actions)).toEqual(['task.a:HALT']);
  });

  it('with Redis down for everyone the worker probes again every fetchWorkerInterval', () => {
    const [down] = probeResult(probing(), { reached: 2, total: 2 });
    const [snap, actions] = step(down, after('fetchWorkerInterval', 'worker.redisDown'));
    expect(snap.value).toBe('probing');
    expect(invoked(actions)).toContain('probePeers');
  });

  it.each([
    ['probing', () => probing()],
    ['redisDown', () => probeResult(probing(), { reached: 2, total: 2 })[0]],
    ['halted', () => probeResult(step(fetching(), { type: 'REDIS_LOST' })[0], { reached: 0, total: 2 })[0]],
  ])('REDIS_BACK in %s reconciles the local tasks with their leases', (_name, from) => {
    const [snap, actions] = step(from(), { type: 'REDIS_BACK' });
    expect(snap.value).toBe('reconciling');
    expect(invoked(actions)).toEqual(['reconcile']);
  });

  it('a partitioned worker waits for its tasks to halt before it looks for Redis again (halted awaits it)', () => {
    const part = probeResult(probing(['a']), { reached: 0, total: 2 })[0];
    expect(part.value).toBe('partitioned');
    expect(invoked(step(part, { type: 'REDIS_BACK' })[1])).toEqual([]);
    const [halted, actions] = step(part, { type: 'TASKS_ENDED', ids: ['a'] });
    expect(halted.value).toBe('halted');
    expect(invoked(actions)).toEqual(['awaitRedis']);
  });

  it.each([
    ['probing', () => probing()],
    ['redisDown', () => probeResult(probing(), { reached: 2, total: 2 })[0]],
    ['halted', () => probeResult(step(fetching(), { type: 'REDIS_LOST' })[0], { reached: 0, total: 2 })[0]],
  ])('while Redis is lost, in %s, the worker keeps asking Redis whether it is back', (_name, from) => {
    expect(Object.values(from().children).map((ref) => (ref as AnyActorRef).src)).toContain('awaitRedis');
  });

  it('after reconciling, tasks whose lease was lost are told so, and the worker is connected again', () => {
    const [down] = probeResult(probing(['a', 'b']), { reached: 2, total: 2 });
    const [rec] = step(down, { type: 'REDIS_BACK' });
    const [snap, actions] = step(rec, done(rec, 'reconcile', { lost: ['b', 'ghost'] }));
    expect(snap.value).toEqual({ connected: 'fetching' });
    expect(sent(actions)).toEqual(['task.b:LEASE_LOST']);
    expect(invoked(actions)).toEqual(['heartbeat', 'refreshPeers']);
    expect(claims(actions)).toEqual([]); // both slots are taken
  });

  it('a failed reconcile goes back to probing: the peers asked at once, Redis waited for again', () => {
    const [rec] = step(probing(), { type: 'REDIS_BACK' });
    const [snap, actions] = step(rec, failed(rec, 'reconcile'));
    expect(snap.value).toBe('probing');
    expect(named(actions)).toEqual(['reportError']);
    expect(invoked(actions)).toEqual(['awaitRedis', 'probePeers']);
  });

  it('places every top-level state: awaiting Redis (an END refused there is tried again after the reconcile), talking to Redis (a renew first), or starting and stopped', () => {
    // (a new state must be placed: one missing from AWAITING_REDIS had a refused END given up
    // as a lost lease, and the task's result lost)
    const startingOrStopped = ['starting', 'deregistering', 'stopped', 'failed'];
    const placed = [...AWAITING_REDIS, ...TALKING_TO_REDIS, ...startingOrStopped];
    expect(Object.keys(workerMachine.root.states).sort()).toEqual([...placed].sort());
    expect(new Set(placed).size).toBe(placed.length);
  });

  it('LEASES_LOST tells only the tasks this worker runs', () => {
    const [snap, actions] = step(withTasks(['a', 'b']), { type: 'LEASES_LOST', ids: ['a', 'zzz'] });
    expect(snap.value).toEqual({ connected: 'fetching' });
    expect(sent(actions)).toEqual(['task.a:LEASE_LOST']);
  });

  it('CONTROL messages are routed to the running task they name, translated to task events', () => {
    const s = withTasks(['a', 'b']);
    expect(sent(step(s, { type: 'CONTROL', id: 'a', command: 'stop' })[1])).toEqual(['task.a:STOP']);
    expect(sent(step(s, { type: 'CONTROL', id: 'b', command: 'reload' })[1])).toEqual(['task.b:RELOAD']);
    const [, evActions] = step(s, { type: 'CONTROL', id: 'b', command: 'event', name: 'ping', payload: [1] });
    expect(sentEvents(evActions)).toEqual([{ type: 'EVENT', name: 'ping', payload: [1] }]);
    expect(sent(evActions)).toEqual(['task.b:EVENT']);
  });

  it('CONTROL for a task this worker does not run is ignored', () => {
    const [snap, actions] = step(withTasks(['a', 'b']), { type: 'CONTROL', id: 'c', command: 'stop' });
    expect(actions).toEqual([]);
    expect(snap.value).toEqual({ connected: 'fetching' });
  });

  it('STOP with no task running deregisters at once, handing nothing back', () => {
    const s = fetching();
    const [waiting] = step(s, answer(s, []));
    const [snap, actions] = step(waiting, { type: 'STOP' });
    expect(snap.value).toBe('deregistering');
    expect(invoked(actions)).toContain('deregister');
    expect(invoked(actions)).not.toContain('handBack');
    // draining was passed through in the same step: its heartbeat is not left behind
    expect(Object.values(snap.children).map((ref) => (ref as AnyActorRef).src)).toEqual(['controlListener', 'redisWatch', 'deregister']);
  });

  it('STOP with a claim on its way and no task running waits for its answer, hands its tasks back, then deregisters', () => {
    const s = fetching();
    const [drain] = step(s, { type: 'STOP' });
    expect(drain.value).toBe('draining');
    const [snap, actions] = step(drain, answer(s, claimed('a')));
    expect(named(actions)).toEqual(['handBackClaimed']);
    expect(started(actions)).toEqual([]);
    expect(snap.value).toBe('deregistering');
    // a claim that failed leaves nothing to hand back
    expect(step(drain, claimFailed(s))[0].value).toBe('deregistering');
  });

  it('STOP with tasks running drains: no more claims, the heartbeat goes on, stopGrace is armed', () => {
    const [snap, actions] = step(withTasks(['a']), { type: 'STOP' });
    expect(snap.value).toBe('draining');
    expect(invoked(actions)).toEqual(['heartbeat']);
    expect(scheduled(actions)).toEqual({ 'xstate.after.stopGrace.worker.draining': 500 });
    expect(sent(actions)).toEqual([]); // the tasks get their chance to finish
  });

  it('a drain whose last task finishes deregisters without handing anything back', () => {
    const [drain] = step(withTasks(['a', 'b']), { type: 'STOP' });
    const [snap, actions] = step(drain, taskEnded('a'), taskEnded('b'));
    expect(snap.value).toBe('deregistering');
    expect(invoked(actions)).toEqual(['deregister']);
  });

  it('after stopGrace the tasks still running are halted, and handed back once their functions have returned; then the worker deregisters', () => {
    const [drain] = step(withTasks(['a', 'b', 'c']), { type: 'STOP' });
    const [halt, haltActions] = step(drain, taskEnded('a'), after('stopGrace', 'worker.draining'));
    expect(halt.value).toEqual({ leaving: 'aborting' });
    expect(sent(haltActions)).toEqual(['task.b:HALT', 'task.c:HALT']);
    expect(named(haltActions)).toContain('keepForHandBack');
    expect(halt.context.haltedForStop).toEqual(['b', 'c']);
    // nothing goes back while a halted function still runs: claimed elsewhere, it would run twice at once
    expect(invoked(haltActions)).toEqual(['heartbeat']);
    expect(scheduled(haltActions)).toEqual({ 'xstate.after.abortTimeout.worker.leaving': 100 });
    const [one, oneActions] = step(halt, taskEnded('b'));
    expect(one.value).toEqual({ leaving: 'aborting' });
    expect(invoked(oneActions)).toEqual([]);

    const [back, backActions] = step(one, taskEnded('c'));
    expect(back.value).toEqual({ leaving: 'handingBack' });
    expect(inputOf(backActions, 'handBack')).toEqual({ ids: ['b', 'c'] });

    const [dereg] = step(back, done(back, 'handBack'));
    expect(dereg.value).toBe('deregistering');
    const [end] = step(dereg, done(dereg, 'deregister'));
    expect(end.value).toBe('stopped');
    expect(end.status).toBe('done');
  });

  it('a function that ignores its abort is handed back once abortTimeout has passed, and the stop waits no longer', () => {
    const [drain] = step(withTasks(['a']), { type: 'STOP' });
    const [halt] = step(drain, after('stopGrace', 'worker.draining'));
    const [back, backActions] = step(halt, after('abortTimeout', 'worker.leaving'));
    expect(back.value).toEqual({ leaving: 'handingBack' });
    expect(inputOf(backActions, 'handBack')).toEqual({ ids: ['a'] });
    // a still holds its slot (its machine has not ended): out of time, the worker leaves anyway
    const [dereg] = step(back, done(back, 'handBack'));
    expect(dereg.context.running).toEqual(['a']);
    expect(dereg.value).toBe('deregistering');
  });

  it('a task whose function has settled is not handed back at stop: its END is on its way (re-running it would repeat finished work)', () => {
    const [drain] = step(withTasks(['a', 'b']), { type: 'TASKS_SETTLED', ids: ['a'] }, { type: 'STOP' });
    const [halt, haltActions] = step(drain, after('stopGrace', 'worker.draining'));
    expect(halt.context.haltedForStop).toEqual(['b']);
    // (a machine writing its END takes no HALT: told it all the same, it writes on)
    expect(sent(haltActions)).toEqual(['task.a:HALT', 'task.b:HALT']);
    const [back, backActions] = step(halt, taskEnded('b'));
    expect(inputOf(backActions, 'handBack')).toEqual({ ids: ['b'] });
    // the worker waits for a's END
    const [finishing] = step(back, done(back, 'handBack'));
    expect(finishing.value).toEqual({ leaving: 'finishing' });
    // and for the answer of the claim a's settling sent (its tasks go back)
    const [ended] = step(finishing, taskEnded('a'));
    expect(ended.value).toEqual({ leaving: 'finishing' });
    const [dereg, actions] = step(ended, answer(ended, claimed('c')));
    expect(named(actions)).toEqual(['handBackClaimed']);
    expect(dereg.value).toBe('deregistering');
    // an END that never lands is waited for until abortTimeout from the halt, once
    expect(step(finishing, after('abortTimeout', 'worker.leaving'))[0].value).toBe('deregistering');
  });

  it('a task whose END goes out after the halt (its function returned as the halt came) is not handed back either', () => {
    const [drain] = step(withTasks(['a', 'b']), { type: 'STOP' });
    const [halt] = step(drain, after('stopGrace', 'worker.draining'));
    expect(halt.context.haltedForStop).toEqual(['a', 'b']);
    // (b goes back once its function has returned: a's END is not waited for first)
    const [back, backActions] = step(halt, { type: 'TASKS_SETTLED', ids: ['a'] }, taskEnded('b'));
    expect(back.value).toEqual({ leaving: 'handingBack' });
    expect(inputOf(backActions, 'handBack')).toEqual({ ids: ['b'] });
    const [finishing] = step(back, done(back, 'handBack'));
    expect(finishing.value).toEqual({ leaving: 'finishing' });
  });

  it('a task told to stop is not halted past the grace, nor handed back: it ends stopped, and the stop waits for it', () => {
    const [told, toldActions] = step(withTasks(['a', 'b']), { type: 'CONTROL', id: 'a', command: 'stop' });
    expect(sent(toldActions)).toEqual(['task.a:STOP']);
    expect(told.context.stopping).toEqual(['a']);
    const [drain] = step(told, { type: 'STOP' });
    const [halt, haltActions] = step(drain, after('stopGrace', 'worker.draining'));
    expect(sent(haltActions)).toEqual(['task.b:HALT']);
    expect(halt.context.haltedForStop).toEqual(['b']);
    const [back, backActions] = step(halt, taskEnded('b'));
    expect(inputOf(backActions, 'handBack')).toEqual({ ids: ['b'] });
    const [finishing] = step(back, done(back, 'handBack'));
    expect(finishing.value).toEqual({ leaving: 'finishing' });
    const [ended] = step(finishing, taskEnded('a'));
    expect(ended.context.stopping).toEqual([]);
    // (and the claim for the other slot answers)
    expect(step(ended, claimFailed(ended))[0].value).toBe('deregistering');
  });

  it('a stop for a task not running here is not noted; a new claim of a stopped id is a task not told to stop', () => {
    expect(step(withTasks(['a']), { type: 'CONTROL', id: 'x', command: 'stop' })[0].context.stopping).toEqual([]);
    expect(step(withTasks(['a']), { type: 'CONTROL', id: 'a', command: 'reload' })[0].context.stopping).toEqual([]);
    const [told] = step(withTasks(['a']), { type: 'CONTROL', id: 'a', command: 'stop' }, { type: 'CONTROL', id: 'a', command: 'stop' });
    expect(told.context.stopping).toEqual(['a']);
    const [again] = step(told, { type: 'TASKS_SETTLED', ids: ['a'] }, answer(told, claimed('a')));
    expect(again.context.running).toEqual(['a']);
    expect(again.context.stopping).toEqual([]);
  });

  it('a failed hand-back is reported, and the worker deregisters anyway', () => {
    const [drain] = step(withTasks(['a']), { type: 'STOP' });
    const [halt] = step(drain, after('stopGrace', 'worker.draining'));
    const [back] = step(halt, taskEnded('a'));
    const [snap, actions] = step(back, failed(back, 'handBack'));
    expect(named(actions)).toEqual(['reportError']);
    // once the claim for the other slot has answered (failed: nothing to hand back)
    expect(snap.value).toEqual({ leaving: 'finishing' });
    const [dereg, failActions] = step(snap, claimFailed(snap));
    expect(failActions.filter((a) => !a.type.startsWith('xstate.'))).toEqual([]);
    expect(dereg.value).toBe('deregistering');
  });

  it('a partitioned or halted worker that is stopped deregisters without draining', () => {
    const [part] = probeResult(probing(['a']), { reached: 0, total: 2 });
    expect(step(part, { type: 'STOP' })[0].value).toBe('deregistering');
    const [halted] = step(part, taskEnded('a'));
    expect(halted.value).toBe('halted');
    expect(step(halted, { type: 'STOP' })[0].value).toBe('deregistering');
  });
});

// ---------------------------------------------------------------------------------------------
// Running the worker with fake effects
// ---------------------------------------------------------------------------------------------

interface RunCall {
  id: string;
  run: number;
  /** abortRun fired while this was the task's current run */
  aborted: boolean;
  settled: boolean;
  /** the function returns: the task actor gets RUN_DONE tagged with this run's number */
  resolve: (v: unknown) => void;
  /** the function throws: the task actor gets RUN_FAILED tagged with this run's number */
  reject: (e: unknown) => void;
}

/** send a report to a task actor, as the runtime does: only while it is still active */
const report = (self: AnyActorRef, event: TaskMachineEvent) => {
  if (self.getSnapshot().status === 'active') self.send(event);
};

/**
 * Fake effects for the worker and its child tasks. Scripted results are consumed in order;
 * afterwards claims are empty, probes reach every peer and reconciles lose nothing. Task
 * functions (startRun) never settle unless the test settles them through `runs` (or, with
 * `honoursAbort`, abortRun rejects them soon after); END writes (writeEnd) are recorded and go
 * through, reported to the task actor asynchronously. waitForTask never resolves unless the test
 * calls one of `waits`.
 */
function fakeWorker(opts: { claims?: string[][]; probes?: PeerProbe[]; reconciles?: string[][]; registerFails?: boolean; honoursAbort?: boolean } = {}) {
  const claims = [...(opts.claims ?? [])];
  const probes = [...(opts.probes ?? [])];
  const reconciles = [...(opts.reconciles ?? [])];
  const log = {
    registers: 0,
    claims: [] as number[],
    waits: [] as Array<() => void>,
    probes: 0,
    reconciles: 0,
    handBacks: [] as string[][],
    deregisters: 0,
    errors: [] as string[],
    /** fromCallback services: "name" on start, "-name" on cleanup */
    services: [] as string[],
    send: {} as Record<string, (e: AnyEventObject) => void>,
    runs: [] as RunCall[],
    finishes: [] as Array<{ id: string; outcome: TaskOutcome | undefined }>,
    taskActions: [] as string[],
  };
  const service = (name: string, first?: AnyEventObject) =>
    fromCallback<AnyEventObject>(({ sendBack }) => {
      log.services.push(name);
      log.send[name] = sendBack;
      if (first) sendBack(first);
      return () => log.services.push(`-${name}`);
    });

  const task = taskMachine.provide({
    actions: {
      startRun: ({ context, self }) => {
        const { id, run } = context;
        const call: RunCall = {
          id,
          run,
          aborted: false,
          settled: false,
          resolve: (output) => {
            if (call.settled) return;
            call.settled = true;
            report(self, { type: 'RUN_DONE', run, output });
          },
          reject: (error) => {
            if (call.settled) return;
            call.settled = true;
            report(self, { type: 'RUN_FAILED', run, error });
          },
        };
        log.runs.push(call);
      },
      writeEnd: ({ context, self }) => {
        log.finishes.push({ id: context.id, outcome: context.outcome });
        void Promise.resolve().then(() => report(self, { type: 'ENDED', written: true }));
      },
      abortRun: ({ context }) => {
        log.taskActions.push(`abortRun:${context.id}`);
        const current = log.runs.filter((r) => r.id === context.id).at(-1);
        if (!current) return;
        current.aborted = true;
        if (opts.honoursAbort) void Promise.resolve().then(() => current.reject(new Error('aborted')));
      },
      deliverEvent: ({ context, event }) => {
        if (event.type === 'EVENT') log.taskActions.push(`deliverEvent:${context.id}:${event.name}`);
      },
      detachRun: ({ context }) => log.taskActions.push(`detachRun:${context.id}`),
      reportFinishError: ({ context }) => log.taskActions.push(`reportFinishError:${context.id}`),
      markToldStop: ({ context }) => log.taskActions.push(`markToldStop:${context.id}`),
      releaseTask: ({ context }) => log.taskActions.push(`releaseTask:${context.id}`),
    },
  });

  // the task machines as src/worker.ts runs them: compiled records, on the test's clock
  const box: { actor?: AnyActorRef; clock?: SimulatedClock; received?: (id: string, e: AnyEventObject) => void } = {};
  const machines = new TaskMachines(compileMachine(task), {
    send: (e) => box.actor?.getSnapshot().status === 'active' && box.actor.send(e),
    clock: { setTimeout: (f, ms) => box.clock!.setTimeout(f, ms), clearTimeout: (h) => box.clock!.clearTimeout(h as never) },
    received: (id, e) => box.received?.(id, e),
  });
  const logic = workerMachine.provide({
    actors: {
      register: promiseEffect<void>(async () => {
        log.registers++;
        if (opts.registerFails) throw new Error('port in use');
      }),
      // woken by the test, it claims as requestClaim does (the next scripted claim)
      waitForTask: promiseEffect<{ tasks: ClaimedTask[] }, { free: number }>(
        ({ input }) =>
          new Promise((resolve) =>
            log.waits.push(() => {
              log.claims.push(input.free);
              resolve({ tasks: claimed(...(claims.shift() ?? [])) });
            }),
          ),
      ),
      heartbeat: service('heartbeat'),
      refreshPeers: service('refreshPeers'),
      // (Redis acknowledges the subscription at once; the tests that say otherwise send CONTROL_LOST)
      controlListener: service('controlListener', { type: 'CONTROL_READY' }),
      redisWatch: service('redisWatch'),
      awaitRedis: service('awaitRedis'),
      probePeers: promiseEffect<PeerProbe>(async () => {
        log.probes++;
        return probes.shift() ?? { reached: 1, total: 1 };
      }),
      reconcile: promiseEffect<{ lost: string[] }>(async () => {
        log.reconciles++;
        return { lost: reconciles.shift() ?? [] };
      }),
      recoverClaims: promiseEffect<void>(async () => {}),
      handBack: promiseEffect<void, { ids: string[] }>(async ({ input }) => {
        log.handBacks.push(input.ids);
      }),
      deregister: promiseEffect<void>(async () => {
        log.deregisters++;
      }),
    },
    actions: {
      reportError: ({ event }) => log.errors.push(event.type),
      // answered on a later tick, as the runtime's claim is
      requestClaim: (_, params) => {
        const { free, round } = params as { free: number; round: number };
        log.claims.push(free);
        const tasks = claimed(...(claims.shift() ?? []));
        void Promise.resolve().then(() => box.actor?.getSnapshot().status === 'active' && box.actor.send({ type: 'CLAIMED', tasks, asked: free, round }));
      },
      handBackClaimed: ({ event }) => log.handBacks.push((event as { tasks: ClaimedTask[] }).tasks.map((t) => t.id)),
      keepForHandBack: () => {},
      ...machines.actions,
    },
  });
  return { logic, log, machines, box };
}

const settle = async () => {
  for (let i = 0; i < 4; i++) await new Promise<void>((r) => setImmediate(r));
};

/** the task events only the worker sends (the task effects report the others) */
const FROM_WORKER = new Set(['STOP', 'RELOAD', 'EVENT', 'LEASE_LOST', 'HALT']);

async function startFake(fake: ReturnType<typeof fakeWorker>, i: WorkerInput, interpreter: 'xstate' | 'compiled') {
  const clock = new SimulatedClock();
  /** events the worker sent to its task actors, as "task.<id>:TYPE" */
  const toTasks: string[] = [];
  /** reports the task effects sent their own task actor, as "task.<id>:TYPE" */
  const reports: string[] = [];
  const crashes: unknown[] = [];
  const logic = interpreter === 'compiled' ? (compileMachine(fake.logic) as unknown as typeof fake.logic) : fake.logic;
  const actor = createActor(logic, { input: i, clock });
  fake.box.actor = actor;
  fake.box.clock = clock;
  fake.box.received = (id, e) => {
    if (!e.type.startsWith('xstate.')) (FROM_WORKER.has(e.type) ? toTasks : reports).push(`task.${id}:${e.type}`);
  };
  actor.subscribe({ error: (e) => crashes.push(e) });
  actor.start();
  await settle();
  const state = () => actor.getSnapshot().value;
  /** live task machines, as "task.<id>" */
  const children = () => fake.machines.ids().map((id) => `task.${id}`);
  const runOf = (id: string) => {
    const r = fake.log.runs.filter((x) => x.id === id).at(-1);
    if (!r) throw new Error(`task ${id} never ran`);
    return r;
  };
  return { actor, clock, toTasks, reports, crashes, state, children, runOf };
}

describe.each(['xstate', 'compiled'] as const)('worker machine: running with fake effects (%s)', (interpreter) => {
  const runWorker = (fake: ReturnType<typeof fakeWorker>, i: WorkerInput = input) => startFake(fake, i, interpreter);

  it('claims fill the worker to its concurrency, one running child actor task.<id> per task', async () => {
    const fake = fakeWorker({ claims: [['a', 'b']] });
    const w = await runWorker(fake);
    expect(fake.log.registers).toBe(1);
    expect(fake.log.claims).toEqual([2]);
    expect(w.state()).toEqual({ connected: 'fetching' });
    expect(w.children()).toEqual(['task.a', 'task.b']);
    expect(fake.log.runs.map((r) => `${r.id}#${r.run}`)).toEqual(['a#0', 'b#0']);
    expect(w.crashes).toEqual([]);
  });

  it('claims less than the free slots claims again until the queue is empty, then waits', async () => {
    const fake = fakeWorker({ claims: [['a'], ['b']] });
    const w = await runWorker(fake, { ...input, concurrency: 3, lane: 3 });
    expect(fake.log.claims).toEqual([3, 2, 1]);
    expect(w.state()).toEqual({ connected: 'waiting' });
    expect(fake.log.waits).toHaveLength(1);
  });

  it('a task that finishes frees its slot: the child is removed and the worker fetches again', async () => {
    const fake = fakeWorker({ claims: [['a', 'b'], ['c']] });
    const w = await runWorker(fake);
    w.runOf('a').resolve('done');
    await settle();

    expect(fake.log.finishes).toEqual([{ id: 'a', outcome: 'succeeded' }]);
    expect(w.reports).toEqual(['task.a:RUN_DONE', 'task.a:ENDED']);
    expect(fake.log.taskActions).toEqual(['releaseTask:a']);
    expect(fake.log.claims).toEqual([2, 1]);
    expect(w.children()).toEqual(['task.b', 'task.c']);
    expect(w.actor.getSnapshot().context.running).toEqual(['b', 'c']);
    expect(w.state()).toEqual({ connected: 'fetching' });
  });

  it('with lanes, two claims go out at once, each for a lane, and both start their tasks', async () => {
    const fake = fakeWorker({ claims: [['a', 'b'], ['c', 'd'], ['e']] });
    const w = await runWorker(fake, { ...input, concurrency: 4, lane: 2 });
    expect(fake.log.claims).toEqual([2, 2]);
    expect(w.children()).toEqual(['task.a', 'task.b', 'task.c', 'task.d']);
    // one task ends: less than a lane free and no claim on its way, so it is claimed alone
    w.runOf('a').resolve('done');
    await settle();
    expect(fake.log.claims).toEqual([2, 2, 1]);
    expect(w.children()).toEqual(['task.b', 'task.c', 'task.d', 'task.e']);
    expect(w.actor.getSnapshot().context.asking).toEqual([]);
  });

  it('a waiting worker claims again when the queue wakes it', async () => {
    const fake = fakeWorker({ claims: [[], ['a']] });
    const w = await runWorker(fake);
    expect(w.state()).toEqual({ connected: 'waiting' });
    fake.log.waits[0]!();
    await settle();
    expect(fake.log.claims).toEqual([2, 2, 1]);
    expect(w.children()).toEqual(['task.a']);
  });

  it('a task claimed again while its old actor lives replaces it: the old copy is abandoned, the id stays running', async () => {
    const fake = fakeWorker({ claims: [['a'], [], ['a']] });
    const w = await runWorker(fake);
    expect(w.state()).toEqual({ connected: 'waiting' });
    fake.log.waits[0]!(); // the queue wakes the worker: the requeued task `a` is claimed back
    await settle();
    expect(w.toTasks).toEqual(['task.a:LEASE_LOST']);
    expect(fake.log.runs.map((r) => [r.id, r.aborted])).toEqual([
      ['a', true],
      ['a', false],
    ]);
    expect(w.children()).toEqual(['task.a']);
    expect(w.actor.getSnapshot().context.running).toEqual(['a']);
    // the new copy is the one the worker now routes to
    w.actor.send({ type: 'LEASES_LOST', ids: ['a'] });
    await settle();
    expect(w.toTasks).toEqual(['task.a:LEASE_LOST', 'task.a:LEASE_LOST']);
    expect(w.children()).toEqual([]);
    expect(w.actor.getSnapshot().context.running).toEqual([]);
  });

  it('CONTROL stop is routed only to the running task with that id, which ends stopped', async () => {
    const fake = fakeWorker({ claims: [['a', 'b']], honoursAbort: true });
    const w = await runWorker(fake);
    w.actor.send({ type: 'CONTROL', id: 'zzz', command: 'stop' });
    w.actor.send({ type: 'CONTROL', id: 'a', command: 'stop' });
    await settle();

    expect(w.toTasks).toEqual(['task.a:STOP']);
    expect(w.reports).toEqual(['task.a:RUN_FAILED', 'task.a:ENDED']);
    expect(fake.log.finishes).toEqual([{ id: 'a', outcome: 'stopped' }]);
    expect(w.children()).toEqual(['task.b']);
    expect(w.runOf('b').aborted).toBe(false);
  });

  it('CONTROL reload and event reach the named task as RELOAD and EVENT', async () => {
    const fake = fakeWorker({ claims: [['a', 'b']], honoursAbort: true });
    const w = await runWorker(fake);
    w.actor.send({ type: 'CONTROL', id: 'b', command: 'event', name: 'ping', payload: null });
    w.actor.send({ type: 'CONTROL', id: 'a', command: 'reload' });
    await settle();
    expect(w.toTasks).toEqual(['task.b:EVENT', 'task.a:RELOAD']);
    expect(fake.log.taskActions).toContain('deliverEvent:b:ping');
    expect(fake.log.runs.map((r) => `${r.id}#${r.run}`)).toEqual(['a#0', 'b#0', 'a#1']);
    expect(w.reports).toEqual(['task.a:RUN_FAILED']); // run 0 aborted, run 1 goes on
    expect(w.children()).toEqual(['task.a', 'task.b']);
  });

  it('after a reload, a late report from the replaced run is ignored: the task keeps its slot until the new run ends', async () => {
    const fake = fakeWorker({ claims: [['a', 'b']] });
    const w = await runWorker(fake);
    w.actor.send({ type: 'CONTROL', id: 'a', command: 'reload' });
    w.clock.increment(100); // run 0 ignores its signal: run 1 is started after abortTimeout
    await settle();
    expect(fake.log.runs.map((r) => `${r.id}#${r.run}:${r.aborted}`)).toEqual(['a#0:true', 'b#0:false', 'a#1:false']);

    fake.log.runs[0]!.resolve('stale');
    await settle();
    expect(w.reports).toEqual(['task.a:RUN_DONE']);
    expect(fake.log.finishes).toEqual([]);
    expect(w.children()).toEqual(['task.a', 'task.b']);
    expect(fake.log.claims).toEqual([2]);

    w.runOf('a').resolve('fresh');
    await settle();
    expect(fake.log.finishes).toEqual([{ id: 'a', outcome: 'succeeded' }]);
    expect(w.children()).toEqual(['task.b']);
    expect(fake.log.claims).toEqual([2, 1]);
    expect(w.crashes).toEqual([]);
  });

  it('leases reported lost by the heartbeat abandon just those tasks, writing nothing for them', async () => {
    const fake = fakeWorker({ claims: [['a', 'b']] });
    const w = await runWorker(fake);
    fake.log.send.heartbeat!({ type: 'LEASES_LOST', ids: ['a', 'ghost'] });
    await settle();

    expect(w.toTasks).toEqual(['task.a:LEASE_LOST']);
    expect(fake.log.taskActions).toEqual(['abortRun:a', 'releaseTask:a']);
    expect(fake.log.finishes).toEqual([]);
    expect(w.runOf('a').aborted).toBe(true);
    expect(w.runOf('b').aborted).toBe(false);
    expect(w.children()).toEqual(['task.b']);
    expect(fake.log.claims).toEqual([2, 1]);
  });

  it('STOP with no task running deregisters immediately and ends stopped, handing nothing back', async () => {
    const fake = fakeWorker();
    const w = await runWorker(fake);
    expect(w.state()).toEqual({ connected: 'waiting' });
    w.actor.send({ type: 'STOP' });
    await settle();

    expect(fake.log.deregisters).toBe(1);
    expect(fake.log.handBacks).toEqual([]);
    expect(w.actor.getSnapshot().status).toBe('done');
    expect(w.state()).toBe('stopped');
  });

  it('STOP lets a task that finishes within stopGrace end normally, then deregisters', async () => {
    const fake = fakeWorker({ claims: [['a']] });
    const w = await runWorker(fake);
    w.actor.send({ type: 'STOP' });
    await settle();
    expect(w.state()).toBe('draining');

    w.clock.increment(200);
    w.runOf('a').resolve(1);
    await settle();
    expect(fake.log.finishes).toEqual([{ id: 'a', outcome: 'succeeded' }]);
    expect(fake.log.handBacks).toEqual([]);
    expect(fake.log.deregisters).toBe(1);
    expect(w.state()).toBe('stopped');
    expect(fake.log.claims).toEqual([2, 1]); // nothing fetched after STOP
  });

  it('STOP with a task that never ends halts it after stopGrace, hands it back once abortTimeout has passed, and ends stopped', async () => {
    const fake = fakeWorker({ claims: [['a']] });
    const w = await runWorker(fake);
    w.actor.send({ type: 'STOP' });
    await settle();

    // still heartbeating while draining (the connected heartbeat was replaced by the draining one)
    const hb = () => fake.log.services.filter((s) => s === 'heartbeat').length - fake.log.services.filter((s) => s === '-heartbeat').length;
    expect(hb()).toBe(1);

    w.clock.increment(499);
    await settle();
    expect(w.state()).toBe('draining');
    expect(w.toTasks).toEqual([]);

    w.clock.increment(1);
    await settle();
    expect(w.toTasks).toEqual(['task.a:HALT']);
    // the function ignores its signal: it gets abortTimeout to return, its lease heartbeated,
    // and is not handed back meanwhile (claimed elsewhere, it would run twice at once)
    expect(w.state()).toEqual({ leaving: 'aborting' });
    expect(hb()).toBe(1);
    w.clock.increment(99);
    await settle();
    expect(fake.log.handBacks).toEqual([]);
    expect(fake.log.deregisters).toBe(0);
    w.clock.increment(1);
    await settle();
    expect(fake.log.handBacks).toEqual([['a']]);
    expect(fake.log.finishes).toEqual([]);
    expect(fake.log.deregisters).toBe(1);
    expect(w.state()).toBe('stopped');
    expect(w.actor.getSnapshot().status).toBe('done');
    expect(w.crashes).toEqual([]);
  });

  it('a worker cut off from most peers halts every task, then reconnects when Redis is back', async () => {
    // functions that honour their signal: halted at once
    const fake = fakeWorker({ claims: [['a', 'b']], probes: [{ reached: 1, total: 4 }], honoursAbort: true });
    const w = await runWorker(fake);
    w.actor.send({ type: 'REDIS_LOST' });
    await settle();

    expect(fake.log.probes).toBe(1);
    expect(w.toTasks).toEqual(['task.a:HALT', 'task.b:HALT']);
    expect(fake.log.finishes).toEqual([]); // halted tasks write nothing: the monitors requeue them
    expect(w.children()).toEqual([]);
    expect(w.state()).toBe('halted');
    expect(fake.log.services).toEqual(expect.arrayContaining(['-heartbeat', '-refreshPeers']));

    fake.log.send.awaitRedis!({ type: 'REDIS_BACK' });
    await settle();
    expect(fake.log.reconciles).toBe(1);
    expect(w.state()).toEqual({ connected: 'waiting' });
    expect(fake.log.claims).toEqual([2, 2]);
    expect(w.crashes).toEqual([]);
  });

  it('with Redis down for everyone the tasks keep running and the peers are probed every fetchWorkerInterval', async () => {
    const fake = fakeWorker({ claims: [['a', 'b']], probes: [{ reached: 3, total: 4 }, { reached: 4, total: 4 }], reconciles: [['a']] });
    const w = await runWorker(fake);
    w.actor.send({ type: 'REDIS_LOST' });
    await settle();
    expect(w.state()).toBe('redisDown');
    expect(w.toTasks).toEqual([]);

    w.clock.increment(299);
    await settle();
    expect(fake.log.probes).toBe(1);
    w.clock.increment(1);
    await settle();
    expect(fake.log.probes).toBe(2);
    expect(w.state()).toBe('redisDown');

    // Redis is back and task a's lease turned out to be lost meanwhile
    fake.log.send.awaitRedis!({ type: 'REDIS_BACK' });
    await settle();
    expect(w.toTasks).toEqual(['task.a:LEASE_LOST']);
    expect(w.children()).toEqual(['task.b']);
    expect(w.actor.getSnapshot().matches('connected')).toBe(true);
    expect(fake.log.runs.filter((r) => r.id === 'b')).toHaveLength(1); // b was never interrupted
  });

  it('a worker that cannot register ends failed and reports it', async () => {
    const fake = fakeWorker({ registerFails: true });
    const w = await runWorker(fake);
    expect(w.state()).toBe('failed');
    expect(w.actor.getSnapshot().status).toBe('done');
    expect(fake.log.errors).toHaveLength(1);
    expect(fake.log.claims).toEqual([]);
  });

  // stop() during start() (SIGTERM while registering) must not be lost: the worker would hang.
  it('a STOP received while registering is not lost: the worker ends stopped', async () => {
    const fake = fakeWorker();
    let finishRegister!: () => void;
    const slow = fake.logic.provide({
      actors: {
        register: promiseEffect<void>(() => new Promise<void>((r) => (finishRegister = r))),
      },
    });
    const w = await runWorker({ ...fake, logic: slow });
    expect(w.state()).toBe('starting');
    w.actor.send({ type: 'STOP' });
    finishRegister();
    await settle();
    expect(fake.log.claims).toEqual([]);
    expect(w.actor.getSnapshot().status).toBe('done');
  });
});
