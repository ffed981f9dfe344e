/**
 * A task function that holds the event loop (a computation of seconds) from an I/O callback:
 * once it returns, the loop's timers of the next turn run before its sockets are read. The
 * deadlines of calls whose replies came meanwhile (src/command-deadlines.ts, and an idle
 * worker's wait: src/worker.ts `answeredWithin`) came due first, and those calls failed as
 * unanswered: a heartbeat said Redis was unreachable, a wait's claim was handed back. A deadline
 * is judged after the turn's I/O now.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a task function that blocks the event loop past a call\'s deadline', () => {
  it('a wait answered while a task function blocked the event loop past its deadline stands: its reply, in the socket, is read first', async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200, fetchTaskInterval: 500 }, [], ['busy', 'echo']);
    cleanup.push(() => w.kill('SIGKILL'));
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // (it waits 300 ms, the worker's next wait sent meanwhile, then blocks the loop 3 s, past
    // that wait's deadline of 1.5 s)
    const busy = await c.submit('busy', { after: 300, ms: 3000 });
    await w.waitFor(new RegExp(`^STARTED ${busy}`));
    await sleep(800);
    // claimed by the wait in Redis, its reply read once the loop is free
    const echo = await c.submit('echo', 'x');
    expect(await c.wait(echo, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(await c.wait(busy, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded' });
    expect(w.lines.filter((l) => /had no answer|recovered \d+ claim/.test(l)), w.lines.join('\n')).toEqual([]);
  }, 30_000);

  it("a call whose reply came while a task function blocked the event loop past the call's deadline is not failed as unanswered", async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 200 }, [], ['busy']);
    cleanup.push(() => w.kill('SIGKILL'));
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // (a progress update sent, then the loop held 3 s, from an I/O callback, past its 1 s deadline)
    const busy = await c.submit('busy', { after: 300, ms: 3000, update: true });
    expect(await c.wait(busy, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded' });
    await sleep(500);
    expect(w.lines.filter((l) => /^(WARN|ERROR)/.test(l)), w.lines.join('\n')).toEqual([]);
  }, 30_000);
});
