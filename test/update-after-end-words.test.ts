/**
 * `task.update()` called after the task function returned (a timer or a callback it left
 * behind): the task has ended, succeeded, here; the update rejects with LeaseLostError "lease of
 * task "x" was lost (requeued or claimed elsewhere); write refused", which sends the user looking
 * for a requeue or a second worker that never happened. The error must say that the task had
 * already ended (its attempt settled) when the update came.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let server: RedisServer;
let client: Client;
let worker: Worker;
const late = new Map<string, Error>();

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  worker = new Worker({ redis, port: 0, logger: quiet });
  worker.addTaskFunction('leavesTimer', async (task) => {
    setTimeout(() => {
      task.update({ pct: 100 }).catch((e: unknown) => late.set(task.id, e as Error));
    }, 300);
    return 'done';
  });
  await worker.start();
  client = new Client({ redis, logger: quiet });
});
afterAll(async () => {
  await client.close();
  await worker.stop();
  await server.stop();
});

describe('task.update after the function returned', () => {
  it('rejects saying the task had ended, not that its lease was lost to a requeue', async () => {
    const id = await client.submit('leavesTimer', null);
    expect((await client.wait(id, { timeout: 10_000 })).outcome).toBe('succeeded');
    const e = await until(() => late.get(id), 'the late update to settle', 5000);
    expect(e.message).toMatch(/ended|returned|settled|finished/);
    expect(e.message).not.toMatch(/requeued or claimed elsewhere/);
  });
});
