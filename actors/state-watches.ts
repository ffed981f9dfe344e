/**
 * Task machines someone watches (the dashboard, through a `watch` control message): each watched
 * record's state value is handed to `publish` at once, then after each step that changes it,
 * until the record's machine stops or `ttl` ms pass without another watch. An unwatched record
 * is left as it is (machine-record.ts: no inspection hook), so watching costs nothing on the
 * worker's hot path unless someone looks.
 *
 * Steps come in bursts (RUN_DONE, then the END write's reply a moment later; several microsteps
 * in one event): the value is read once per tick after a step, and published only when it
 * differs from the last one published.
 */
import type { StateValue } from 'xstate';
import type { MachineRecord } from './machine-record.js';

interface Watch {
  until: number;
  /** the last value published, as JSON */
  last?: string;
  scheduled: boolean;
}

export class StateWatches {
  private readonly watches = new WeakMap<MachineRecord<object>, Watch>();

  constructor(
    /** hand a record's state value on; false when it could not go out now (it is tried at the next step or watch) */
    private readonly publish: (record: MachineRecord<object>, value: StateValue) => boolean,
    private readonly ttl: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** watch `record` (again): its value is published now, even when unchanged (a new watcher needs it) */
  watch(record: MachineRecord<object>): void {
    if (record.getSnapshot().status !== 'active') return;
    let w = this.watches.get(record);
    if (!w) {
      w = { until: 0, scheduled: false };
      this.watches.set(record, w);
      record.watch(() => this.stepped(record));
    }
    w.until = this.now() + this.ttl;
    w.last = undefined;
    this.send(record, w);
  }

  private stepped(record: MachineRecord<object>): void {
    const w = this.watches.get(record);
    if (!w || w.scheduled) return;
    w.scheduled = true;
    process.nextTick(() => {
      w.scheduled = false;
      this.send(record, w);
    });
  }

  private send(record: MachineRecord<object>, w: Watch): void {
    // a machine that has stopped says nothing more (its task's `end` tells the rest); a watch
    // not renewed lapses
    if (record.getSnapshot().status !== 'active' || this.now() > w.until) {
      record.unwatch();
      this.watches.delete(record);
      return;
    }
    const value = record.getSnapshot().value;
    const text = JSON.stringify(value);
    if (text === w.last) return;
    if (this.publish(record, value)) w.last = text;
  }
}
