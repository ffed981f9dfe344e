/**
 * Review of the per-task path: a task machine record that crashes (an action throws: a bug) must
 * be reported to the worker machine once, as TASK_CRASHED, and leave the live records, whenever
 * in its life it crashes, so that the worker forgets its id and frees its slot (machines/worker.ts
 * forgetTasks). A crash while the record was constructed (its context, or an assign among its
 * initial state's entry actions, which run then) was reported before TaskMachines had
 * registered the record: taken for the crash of a replaced claim, it was only logged, and the
 * record stayed live with status `error`, its id in the worker's `running` for good (a slot lost;
 * draining waited for it until stopGrace).
 */
import { describe, expect, it } from 'vitest';
import { assign, setup, type AnyStateMachine } from 'xstate';
import { compileMachine } from '../actors/compiled-machine.js';
import { TaskMachines } from '../actors/task-machines.js';
import type { WorkerEvent } from '../machines/worker.js';

type Crash = 'context' | 'entry assign' | 'entry action' | 'transition' | 'delayed';

/** a task-shaped machine that crashes at `crash` for the claim whose lease is 'crashes' */
function machine(crash: Crash): AnyStateMachine {
  const boom = (lease: string) => {
    if (lease === 'crashes') throw new Error(`bug at ${crash}`);
  };
  return setup({
    types: { context: {} as { id: string; lease: string }, input: {} as { id: string; lease: string } },
    actions: {
      entryAssign: assign(({ context }) => {
        if (crash === 'entry assign') boom(context.lease);
        return {};
      }),
      entryAction: ({ context }) => crash === 'entry action' && boom(context.lease),
      act: ({ context }) => crash === 'transition' && boom(context.lease),
      late: ({ context }) => crash === 'delayed' && boom(context.lease),
    },
  }).createMachine({
    context: ({ input }) => {
      if (crash === 'context') boom(input.lease);
      return { id: input.id, lease: input.lease };
    },
    initial: 'running',
    states: {
      running: {
        entry: ['entryAssign', 'entryAction'],
        on: { GO: { target: 'waiting', actions: 'act' }, LEASE_LOST: 'gone' },
      },
      waiting: { after: { 5: { target: 'gone', actions: 'late' } } },
      gone: { type: 'final' },
    },
  });
}

const CRASHES: Crash[] = ['context', 'entry assign', 'entry action', 'transition', 'delayed'];
const claim = (...tasks: [id: string, lease: string][]) => ({ tasks: tasks.map(([id, lease]) => ({ id, attempt: 1, lease })), abortTimeout: 10, finishRetryDelay: 10 });

async function run(crash: Crash, replacing: boolean) {
  const sent: WorkerEvent[] = [];
  const replaced: string[] = [];
  const tm = new TaskMachines(compileMachine(machine(crash)) as never, {
    send: (e) => sent.push(e),
    replacedCrashed: (id) => replaced.push(id),
  });
  // an old claim of the same id, still live, is replaced (told LEASE_LOST first)
  if (replacing) tm.start(claim(['bad', 'sound']));
  tm.start(claim(['bad', 'crashes'], ['good', 'sound']));
  for (const id of ['bad', 'good']) tm.get(id)?.send({ type: 'GO' });
  await new Promise((r) => setTimeout(r, 30));
  return { sent, replaced, live: tm.ids() };
}

describe('a task machine record that crashes', () => {
  for (const replacing of [false, true]) {
    for (const crash of CRASHES) {
      it(`at ${crash}${replacing ? ', replacing a live record of its id' : ''}: one TASK_CRASHED, and it is no longer live`, async () => {
        const { sent, replaced, live } = await run(crash, replacing);
        expect(sent.filter((e) => e.type === 'TASK_CRASHED').map((e) => (e as { id: string }).id)).toEqual(['bad']);
        expect(replaced).toEqual([]);
        expect(live).not.toContain('bad');
        // the other task of the claim is not disturbed: it ends (told once its end is batched)
        expect(sent.filter((e) => e.type === 'TASKS_ENDED').flatMap((e) => (e as { ids: string[] }).ids)).toContain('good');
      });
    }
  }
});
