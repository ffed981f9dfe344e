/**
 * Custom control events around a `reload`. The task function's handlers used to live on the
 * claim, not the run: a reload's new run added its handlers to the old run's (an event after the
 * reload reached both), an event heard while the reload waited for the old run reached no one
 * (the machine ignored it in `reloading`, with no control-error), and the old run, left running
 * past its AbortSignal, could still emit under the live lease. Now an event reaches the current
 * run's handlers only, one heard between runs is held for the new run, and a superseded run's
 * emits are dropped.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker, type Task, type TaskEvent } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('custom control events around a reload', () => {
  it('reach the current run only: one sent during the reload is held for the new run, once each; the old run speaks no more', async () => {
    /** [run, payload] as each run's handler heard them */
    const heard: Array<[number, unknown]> = [];
    let runs = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let secondStarted!: () => void;
    const second = new Promise<void>((r) => (secondStarted = r));
    const fn = async (task: Task) => {
      const run = ++runs;
      task.on('hello', (p) => heard.push([run, p]));
      if (run === 2) {
        secondStarted();
        // let the test send its events, then end the task
        await released;
        task.emit('said', run);
        return 'done';
      }
      // the first run ignores its AbortSignal; once the second runs, it tries to speak
      await second;
      task.emit('said', run);
      await released;
      return 'stale';
    };
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, abortTimeout: 1500 });
    w.addTaskFunction('chat', fn);
    const c = new Client({ redis: o });
    cleanup.push(
      () => c.close(),
      () => w.stop(),
    );
    await w.start();
    const id = await c.submit('chat', {});
    const events: TaskEvent[] = [];
    const off = c.subscribe(id, (e) => events.push(e));
    await off.ready;
    await until(async () => runs === 1, 'the first run');

    await c.control(id, 'reload');
    // the old run ignores its signal: the reload waits abortTimeout for it
    await sleep(300);
    expect(runs).toBe(1);
    await c.control(id, { event_name: 'hello', event: 'during-reload' });
    await second;
    await c.control(id, { event_name: 'hello', event: 'after-reload' });
    await sleep(500);
    release();
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'done' });
    await sleep(100);
    off();

    // each once, to the new run, in the order sent
    expect(heard).toEqual([
      [2, 'during-reload'],
      [2, 'after-reload'],
    ]);
    const names = events.map((e) => e.event);
    expect(names).not.toContain('control-error');
    // the superseded run's emit never reached the task's channel
    expect(events.filter((e) => e.event === 'said').map((e) => e.data)).toEqual([2]);
  });

  it('one held during the reload waits for the new run to listen, however late; a superseded run adds no listener', async () => {
    const heard: Array<[number, unknown]> = [];
    let runs = 0;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let listening!: () => void;
    const secondListens = new Promise<void>((r) => (listening = r));
    const fn = async (task: Task) => {
      const run = ++runs;
      if (run === 1) {
        // ignores its signal, and listens only after the new run has started: too late
        await new Promise((r) => setTimeout(r, 1800));
        task.on('hello', (p) => heard.push([run, p]));
        await released;
        return 'stale';
      }
      // the new run listens a while after it starts
      await new Promise((r) => setTimeout(r, 300));
      task.on('hello', (p) => heard.push([run, p]));
      listening();
      await released;
      return 'done';
    };
    const o = server.options();
    const w = new Worker({ port: 0, redis: o, abortTimeout: 1000 });
    w.addTaskFunction('late', fn);
    const c = new Client({ redis: o });
    cleanup.push(
      () => c.close(),
      () => w.stop(),
    );
    await w.start();
    const id = await c.submit('late');
    await until(async () => runs === 1, 'the first run');
    await c.control(id, 'reload');
    await sleep(200);
    await c.control(id, { event_name: 'hello', event: 'held' });
    await until(async () => runs === 2, 'the new run');
    await c.control(id, { event_name: 'hello', event: 'before-listening' });
    await secondListens;
    await sleep(100);
    // (one sent once the new run had started, before it listened, found no listener, as it would
    // for a first run that listens late: only what arrived while no run was current is held)
    expect(heard).toEqual([[2, 'held']]);
    // the old run's listener, added after the new run started, hears nothing
    await sleep(800);
    await c.control(id, { event_name: 'hello', event: 'last' });
    await until(async () => heard.length === 2, 'the last event');
    await sleep(100);
    expect(heard).toEqual([
      [2, 'held'],
      [2, 'last'],
    ]);
    release();
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: 'done' });
  });
});
