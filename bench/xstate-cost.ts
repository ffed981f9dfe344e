/**
 * The CPU cost of the machines alone, without Redis: the real worker and task machines with
 * effects that settle at once, both compiled as the worker runs them (actors/compiled-machine.ts);
 * a task actor's life alone, interpreted by xstate and compiled; and, for scale, a trivial
 * machine. Tells how much of a task's worker CPU is the machines (see docs/benchmarks.md and
 * docs/task-actors.md).
 *
 *   node --import tsx bench/xstate-cost.ts
 */
import { createActor, fromCallback, setup, type AnyActorRef } from 'xstate';
import { promiseEffect } from '../actors/promise-effect.js';
import { workerMachine, type ClaimedTask } from '../machines/worker.js';
import { taskMachine } from '../machines/task.js';
import { compileMachine } from '../actors/compiled-machine.js';
import { TaskMachines } from '../actors/task-machines.js';
import { MachineRecord } from '../actors/machine-record.js';

const N = 20_000;

/** the task machine with effects that settle at once; `onEnd` hears each END write */
function instantTask(onEnd: (id: string) => void) {
  return taskMachine.provide({
    actions: {
      abortRun: () => {},
      deliverEvent: () => {},
      reportFinishError: () => {},
      releaseTask: () => {},
      startRun: ({ context, self }) => void Promise.resolve(null).then((output) => self.send({ type: 'RUN_DONE', run: context.run, output })),
      writeEnd: ({ context, self }) => {
        onEnd(context.id);
        void Promise.resolve().then(() => self.send({ type: 'ENDED', written: true }));
      },
    },
  });
}

async function workerPath(concurrency: number): Promise<number> {
  let claimed = 0;
  let ended = 0;
  const box: { actor?: AnyActorRef } = {};
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const idle = fromCallback(() => () => {});
  // (claims wait for the control subscription to be live: CONTROL_READY)
  const controlReady = fromCallback(({ sendBack }) => {
    sendBack({ type: 'CONTROL_READY' });
    return () => {};
  });
  const task = instantTask((id) => {
    box.actor!.send({ type: 'TASKS_SETTLED', ids: [id] });
    if (++ended === N) done();
  });
  const tasks = new TaskMachines(compileMachine(task), { send: (e) => box.actor!.send(e) });
  const machine = workerMachine.provide({
    actors: {
      // promise effects, as src/worker.ts provides them (no xstate Actor per claim)
      register: promiseEffect<void>(async () => {}),
      heartbeat: idle,
      refreshPeers: idle,
      controlListener: controlReady,
      redisWatch: idle,
      awaitRedis: idle,
      waitForTask: promiseEffect<{ tasks: ClaimedTask[] }, { free: number }>(() => new Promise(() => {})),
    },
    actions: {
      reportError: () => {},
      reportTaskCrash: () => {},
      handBackClaimed: () => {},
      // answered on a later tick, as the runtime's claim is
      requestClaim: (_, params) => {
        const { free, round } = params as { free: number; round: number };
        const claim: ClaimedTask[] = [];
        for (let i = 0; i < free && claimed < N; i++) claim.push({ id: `t${claimed++}`, attempt: 1, lease: '1:w' });
        void Promise.resolve().then(() => box.actor!.send({ type: 'CLAIMED', tasks: claim, asked: free, round }));
      },
      ...tasks.actions,
    },
  });
  const c0 = process.cpuUsage();
  // as src/worker.ts runs it: compiled
  const actor = createActor(compileMachine(machine) as unknown as typeof machine, {
    input: { concurrency, lane: concurrency, fetchTaskInterval: 1000, fetchWorkerInterval: 1000, partitionPercentage: 60, stopGrace: 1000, abortTimeout: 1000, finishRetryDelay: 100 },
  });
  box.actor = actor;
  actor.start();
  await all;
  const cpu = process.cpuUsage(c0);
  actor.stop();
  return (cpu.user + cpu.system) / N;
}

async function trivial(): Promise<number> {
  const m = setup({}).createMachine({ initial: 'a', states: { a: { after: { 1: 'b' } }, b: { type: 'final' } } });
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i += 100) {
    await Promise.all(
      Array.from({ length: 100 }, () => new Promise<void>((res) => createActor(m).start().subscribe({ complete: () => res() }))),
    );
  }
  const cpu = process.cpuUsage(c0);
  return (cpu.user + cpu.system) / N;
}

/**
 * a task machine's whole life (created, run, settled, END written, done), 10 at a time: as an
 * xstate actor interpreted by xstate, as an xstate actor of the compiled logic, and as the
 * worker runs it, a record of the compiled logic (actors/machine-record.ts)
 */
async function taskLives(how: 'xstate' | 'compiled actor' | 'compiled record'): Promise<number> {
  const logic = instantTask(() => {});
  const compiledLogic = compileMachine(logic);
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i += 10) {
    await new Promise<void>((res) => {
      let left = 10;
      const end = () => void (--left === 0 && res());
      for (let j = 0; j < 10; j++) {
        const input = { id: `t${i + j}`, attempt: 1, lease: '1:w', abortTimeout: 1000, finishRetryDelay: 100 };
        if (how === 'compiled record') new MachineRecord(compiledLogic, input, { done: end, crashed: (_, e) => { throw e; } }, input.id).start();
        else {
          const a = createActor(how === 'xstate' ? logic : (compiledLogic as unknown as typeof logic), { input });
          a.subscribe({ complete: end });
          a.start();
        }
      }
    });
  }
  const cpu = process.cpuUsage(c0);
  return (cpu.user + cpu.system) / N;
}

for (const c of [1, 10, 100]) console.log(`worker + task machines, concurrency ${c}: ${(await workerPath(c)).toFixed(0)} µs CPU per task`);
for (const i of ['xstate', 'compiled actor', 'compiled record'] as const) console.log(`a task machine's life, ${i}: ${(await taskLives(i)).toFixed(0)} µs CPU per task`);
console.log(`a trivial one-timer machine: ${(await trivial()).toFixed(0)} µs CPU per actor`);
process.exit(0);
