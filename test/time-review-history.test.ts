/**
 * Review of issue 8's `history`: one record per attempt, the last one (the hash's own fields)
 * added by Client.get once the task has ended, whatever happened to the task before.
 *
 * Client.get added the last attempt only when no record had its attempt number. retryDead puts a
 * parked task back with its attempts at 0 and its history kept: its next attempt is numbered 1
 * again, a record of an earlier attempt 1 is there, so the attempt that ended the task was left
 * out, and the history said the task died in every attempt while it succeeded.
 */
import { describe, expect, it } from 'vitest';
import { Client, Monitor } from '../src/index.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

async function worker(o: object): Promise<WorkerProcess> {
  const w = await spawnWorker({ port: 0, redis: o, concurrency: 4, fetchTaskInterval: 200, heartbeatInterval: 100 });
  cleanup.push(() => w.kill());
  return w;
}

function client(o: object): Client {
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  return c;
}

describe('the history of a task retried from the dead letters', () => {
  it('ends with the attempt that ended the task', async () => {
    const o = server.options();
    const c = client(o);
    // (taskTimeout 15 heartbeats: the run after the retry must not be taken for a dead worker's
    // on a loaded machine, which would park it again at maxAttempts 1)
    const m = new Monitor({ redis: o, taskTimeout: 1500, checkTaskInterval: 50, maxAttempts: 1 });
    await m.start();
    cleanup.push(() => m.stop());
    const w = await worker(o);
    const id = await c.submit('sleep', { ms: 400 });
    await w.waitFor(new RegExp(`^STARTED ${id} `));
    await w.kill('SIGKILL');
    await until(async () => (await c.get(id))?.parked?.reason === 'max_attempts', 'parked', 8000);
    const letter = (await c.deadLetters()).find((d) => d.id === id)!;
    expect(await c.retryDead(letter)).toBe(true);
    await worker(o);
    const t = await c.wait(id, { timeout: 8000 });
    expect(t).toMatchObject({ outcome: 'succeeded', attempt: 1 });
    expect(t.history!.map((h) => h.outcome)).toEqual(['died', 'succeeded']);
    expect(t.history!.at(-1)).toMatchObject({ start: t.start, end: t.end, worker: t.worker });
  });
});
