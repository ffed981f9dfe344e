/**
 * The `Task` a task function is given (src/task-handle.ts): its methods may be taken apart, as a
 * function's parameter often is (`async ({ data, emit, signal }) => ...`), and still act on their
 * task; `on` and `off` chain; each run gets its own.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker, type Task, type TaskEvent } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('a task function that takes its Task apart', () => {
  it('emits, updates, listens and reads its signal through the parts, and the task ends with what it returned', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 2 });
    const heard: unknown[] = [];
    let chained: unknown;
    const handles: Task[] = [];
    w.addTaskFunction('parts', async (task: Task) => {
      handles.push(task);
      const { id, data, attempt, function: fn, signal, emit, update, on, off } = task;
      const listener = (payload: unknown) => heard.push(payload);
      const ignored = () => heard.push('never');
      chained = on('greet', listener).on('other', ignored);
      off('other', ignored);
      emit('started', { id, fn, attempt, data });
      await update({ done: 0.5 });
      await until(() => heard.length > 0, 'the control event', 10_000);
      return { aborted: signal.aborted };
    });
    cleanup.push(() => w.stop());
    await w.start();
    const id = 'parts-1';
    const events: TaskEvent[] = [];
    await c.subscribe(id, (e) => events.push(e)).ready;
    await c.submit('parts', { n: 7 }, { id });
    await until(() => events.some((e) => e.event === 'started'), 'the emitted event', 10_000);
    await c.control(id, { event_name: 'greet', event: { hello: 1 } });
    await c.control(id, { event_name: 'other', event: 2 });
    const t = await c.wait(id, { timeout: 10_000 });
    expect(t.outcome).toBe('succeeded');
    expect(t.result).toEqual({ aborted: false });
    expect(events.find((e) => e.event === 'started')?.data).toMatchObject({ id, fn: 'parts', attempt: 1, data: { n: 7 } });
    expect(events.find((e) => e.event === 'progress')?.data).toEqual({ done: 0.5 });
    expect(heard).toEqual([{ hello: 1 }]);
    expect(chained).toBe(handles[0]);
  });

  it('gives each run a Task of its own, naming its own task', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 3 });
    const seen = new Map<string, Task>();
    w.addTaskFunction('own', async (task: Task) => {
      seen.set(task.id, task);
      const { emit } = task;
      await new Promise((r) => setTimeout(r, 50));
      emit('mine', { id: task.id });
    });
    cleanup.push(() => w.stop());
    await w.start();
    const ids = ['own-1', 'own-2', 'own-3'];
    const events = new Map<string, TaskEvent[]>(ids.map((id) => [id, []]));
    for (const id of ids) await c.subscribe(id, (e) => events.get(id)!.push(e)).ready;
    for (const id of ids) await c.submit('own', null, { id });
    await Promise.all(ids.map((id) => c.wait(id, { timeout: 10_000 })));
    expect(new Set(seen.values()).size).toBe(3);
    for (const id of ids) expect(events.get(id)?.find((e) => e.event === 'mine')?.data).toEqual({ id });
  });
});

describe('a task function that listens with a mistake in its call', () => {
  it('on with a name that is no event name, or a handler that is no function: an InvalidTaskError in its own call, naming what it was given', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const w = new Worker({ port: 0, redis: o, logger: quiet });
    const refused: unknown[] = [];
    w.addTaskFunction('listens', (task: Task) => {
      for (const [name, handler] of [
        [5, () => {}],
        ['', () => {}],
        ['ping', undefined],
        ['ping', 'handler'],
      ] as const) {
        try {
          task.on(name as never, handler as never);
          refused.push('taken');
        } catch (e) {
          refused.push(e);
        }
      }
      return 'ran';
    });
    cleanup.push(() => w.stop());
    await w.start();
    expect((await c.wait(await c.submit('listens'), { timeout: 10_000 })).result).toBe('ran');
    expect(refused).toEqual([
      expect.objectContaining({ code: 'ERR_INVALID_TASK', message: 'task.on: the event name must be a non-empty string, got 5' }),
      expect.objectContaining({ code: 'ERR_INVALID_TASK', message: 'task.on: the event name must be a non-empty string, got ""' }),
      expect.objectContaining({ code: 'ERR_INVALID_TASK', message: 'task.on("ping"): the handler must be a function, got undefined' }),
      expect.objectContaining({ code: 'ERR_INVALID_TASK', message: 'task.on("ping"): the handler must be a function, got "handler"' }),
    ]);
  });
});
