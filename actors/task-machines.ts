/**
 * The task machines of one worker: one record (machine-record.ts) per task the worker machine
 * holds, by task id. It provides the worker machine's task actions (`startTasks`, `tellTask`,
 * `stopTasks`) and tells it, in one `TASKS_ENDED` per tick, which task machines reached their
 * final state, or at once, `TASK_CRASHED`, that one threw.
 *
 * Ends are told a tick later, in a batch, because they come in batches: the replies to one END
 * write settle every task it ended, each in its own microtask. One event for all of them is one
 * step of the worker machine instead of one per task.
 */
import type { ActorLogic, AnyEventObject, EventObject, InspectionEvent } from 'xstate';
import type { StartTasks, WorkerEvent } from '../machines/worker.js';
import type { TaskInput, TaskMachineEvent } from '../machines/task.js';
import type { CompiledSnapshot } from './compiled-machine.js';
import { MachineRecord, type Clock, type RecordOwner } from './machine-record.js';

export interface TaskMachinesOptions {
  /** tell the worker machine (TASKS_ENDED, TASK_CRASHED) */
  send(event: WorkerEvent): void;
  /** a crash of an old claim's machine (replaced by a new claim of its id): only to be logged */
  replacedCrashed?(id: string, error: unknown, lease: string | undefined): void;
  clock?: Clock;
  /** for tests: each microstep of every task machine, each event one receives, each end's output */
  inspect?(event: InspectionEvent): void;
  received?(id: string, event: AnyEventObject): void;
  ended?(id: string, output: unknown): void;
}

export class TaskMachines {
  private readonly live = new Map<string, MachineRecord<object>>();
  /** old claims' machines still writing their END after a new claim of their id took their place */
  private readonly replaced = new Set<MachineRecord<object>>();
  private ended: string[] = [];
  private readonly owner: RecordOwner;

  constructor(
    private readonly logic: ActorLogic<CompiledSnapshot<object>, EventObject, unknown>,
    private readonly options: TaskMachinesOptions,
  ) {
    this.owner = {
      done: (m, output) => {
        if (this.live.get(m.id) !== m) return void this.replaced.delete(m); // an old claim's, replaced by a new one
        this.live.delete(m.id);
        options.ended?.(m.id, output);
        if (this.ended.push(m.id) === 1) process.nextTick(() => this.tellEnded());
      },
      crashed: (m, error) => {
        if (this.live.get(m.id) !== m) {
          this.replaced.delete(m);
          return options.replacedCrashed?.(m.id, error, (m.getSnapshot().context as { lease?: string } | undefined)?.lease);
        }
        this.live.delete(m.id);
        options.send({ type: 'TASK_CRASHED', id: m.id, error });
      },
      inspect: options.inspect,
      received: options.received && ((m, e) => options.received!(m.id, e)),
    };
  }

  /** the worker machine's actions that start, tell and stop task machines */
  readonly actions = {
    startTasks: (_: unknown, params: unknown) => this.start(params as StartTasks),
    tellTask: (_: unknown, params: unknown) => {
      const { id, event } = params as { id: string; event: TaskMachineEvent };
      this.live.get(id)?.send(event);
    },
    stopTasks: () => this.stopAll(),
  };

  /**
   * one task machine per claimed task; a live one of the same id is told LEASE_LOST first (one
   * whose END is on its way goes on until its answer, in the background: its end is not
   * reported, since the id runs on in the new one)
   */
  start({ tasks, abortTimeout, finishRetryDelay }: StartTasks): void {
    for (const t of tasks) {
      const old = this.live.get(t.id);
      if (old) {
        old.send({ type: 'LEASE_LOST' });
        if (old.getSnapshot().status === 'active') this.replaced.add(old);
      }
      const input: TaskInput = { id: t.id, attempt: t.attempt, attempts: t.attempts, lease: t.lease, abortTimeout, finishRetryDelay };
      const m = new MachineRecord(this.logic, input, this.owner, t.id, this.options.clock);
      this.live.set(t.id, m);
      m.start();
    }
  }

  /** the live task machine of `id` */
  get(id: string): MachineRecord<object> | undefined {
    return this.live.get(id);
  }

  /** ids of the live task machines */
  ids(): string[] {
    return [...this.live.keys()];
  }

  /** stop them all, without an end (the worker is done) */
  stopAll(): void {
    for (const m of this.live.values()) m.stop();
    this.live.clear();
    for (const m of this.replaced) m.stop();
    this.replaced.clear();
  }

  private tellEnded(): void {
    // an id claimed again since its old machine ended runs on in its new one
    const ids = this.ended.filter((id) => !this.live.has(id));
    this.ended = [];
    if (ids.length) this.options.send({ type: 'TASKS_ENDED', ids });
  }
}
