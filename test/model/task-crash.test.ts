/**
 * Found by the worker model test (worker.test.ts, "real children"), reproduced on the real
 * Worker and Redis: when a task ACTOR crashes (an action throws: a bug, which is what the
 * worker's `xstate.error.actor.task.*` handler is for), its task FUNCTION must still be aborted.
 * an actor that errored runs no more actions, so its abortRun would never fire and the function
 * would run on, orphaned, while the worker claims another task in
 * its slot; src/worker.ts reportTaskCrash therefore aborts it before dropping the record.
 *
 * The crash is caused the way a user can cause it: a logger that throws, called from the task
 * machine's deliverEvent action for a control event nobody listens to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../../src/index.js';
import { startRedis, until, type RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server?.stop();
});

interface Outcome {
  crashed: boolean;
  /** the most functions that ran at once */
  peak: number;
  /** whether the crashed task's function saw its AbortSignal fire */
  orphanAborted: boolean;
}
let outcome: Outcome | undefined;

describe('a task actor that crashes', () => {
  it('is dropped by the worker, which goes on claiming', async () => {
    const o = server.options();
    const quiet = () => {};
    let crashed = false;
    const logger = {
      debug: (msg: unknown) => {
        // a logger bug, hit by deliverEvent when a control event has no listener
        if (String(msg).includes('has no listener')) throw new Error('logger bug');
      },
      info: quiet,
      warn: quiet,
      error: (msg: unknown) => {
        if (String(msg).includes('its task machine crashed')) crashed = true;
      },
    };
    const w = new Worker({ port: 0, redis: o, concurrency: 1, heartbeatInterval: 100, stopGrace: 0, logger });
    const c = new Client({ redis: o });
    let running = 0;
    let peak = 0;
    const signals = new Map<string, AbortSignal>();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    w.addTaskFunction('long', async (task) => {
      signals.set(task.id, task.signal);
      peak = Math.max(peak, ++running);
      try {
        await Promise.race([released, new Promise((r) => task.signal.addEventListener('abort', r))]);
      } finally {
        running--;
      }
    });
    try {
      await w.start();
      const first = await c.submit('long');
      await until(() => signals.has(first), 'the first task runs');
      const second = await c.submit('long');
      await c.control(first, { event_name: 'poke', event: 1 });
      await until(() => crashed, 'the task actor crashes');
      // concurrency 1: the second task may only start once the first function is gone
      await until(() => signals.has(second) || signals.get(first)!.aborted, 'the slot is freed');
      await new Promise((r) => setTimeout(r, 200));
      outcome = { crashed, peak, orphanAborted: signals.get(first)!.aborted };
      expect(crashed).toBe(true);
      expect(w.running).not.toContain(first);
    } finally {
      release();
      await w.stop();
      await c.close();
    }
  });

  // Otherwise a second function would start in its slot while it still runs (peak 2 with
  // concurrency 1).
  it('has its function aborted, so that no more than `concurrency` functions run', () => {
    expect(outcome, 'the scenario above ran').toBeDefined();
    expect(outcome!.orphanAborted).toBe(true);
    expect(outcome!.peak).toBe(1);
  });
});
