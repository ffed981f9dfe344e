/**
 * A graceful stop past its grace hands a running task back only once its function has returned
 * (or abortTimeout has passed). Handed back first, the task was claimed by an idle worker within
 * milliseconds while the stopping worker's copy still ran, heeding its abort slowly or not at
 * all: two copies at once, under a concurrency limit of 1 too. Every rolling deploy that stops a
 * worker with a long task did this.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { startRedis } from './helpers/redis-server.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** when (Date.now()) worker `w` started task `id` */
const startsOf = (w: WorkerProcess, id: string) => w.lines.flatMap((l, i) => (l.startsWith(`STARTED ${id} `) ? [w.times[i]!] : []));

describe('a graceful stop past its grace, beside an idle worker', () => {
  it.each([
    // (each function runs for longer than the idle worker takes to start on a loaded machine:
    // with 1200 ms, it once returned within the grace, its task ended where it ran, and the
    // idle worker had nothing to start)
    { fn: 'stubborn', what: 'a function that ignores its abort', ms: 8000, abortTimeout: 1500 },
    { fn: 'stubborn', what: 'a function that returns within abortTimeout, its abort unheeded', ms: 6000, abortTimeout: 9000 },
  ])('$what: the other worker starts the task only after the first copy has returned, or abortTimeout has passed', async ({ fn, ms, abortTimeout }) => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const redis = server.options();
    const options = { redis, port: 0, stopGrace: 200, abortTimeout, heartbeatInterval: 500 };
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    await c.setLimit({ function: fn }, { concurrency: 1 });
    const a = await spawnWorker(options, [], [fn]);
    cleanup.push(() => a.kill('SIGKILL'));
    const id = await c.submit(fn, { ms });
    await a.waitFor(new RegExp(`^STARTED ${id} `), 10_000);
    const b = await spawnWorker(options, [], [fn]);
    cleanup.push(() => b.kill('SIGKILL'));
    const startedAt = startsOf(a, id)[0]!;
    // (the function still runs as the stop comes: what the test is about)
    expect((await c.get(id))?.state, `${Date.now() - startedAt} ms after the first copy started`).toBe('RUNNING');
    const stopAt = Date.now();
    a.proc.kill('SIGTERM');
    await b.waitFor(new RegExp(`^STARTED ${id} `), 30_000);
    const again = startsOf(b, id)[0]!;
    // the first copy runs until startedAt + ms, or is given up at the grace's end + abortTimeout
    const firstGone = Math.min(startedAt + ms, stopAt + 200 + abortTimeout);
    expect(again, `started again ${again - stopAt} ms after SIGTERM; the first copy ran until ${firstGone - stopAt} ms after it\n${a.lines.join('\n')}`).toBeGreaterThanOrEqual(firstGone - 50);
    // and not later than it need: handed back as the first copy returned
    expect(again - firstGone, a.lines.join('\n')).toBeLessThan(2000);
    expect(await c.wait(id, { timeout: 20_000 })).toMatchObject({ state: 'END', outcome: 'succeeded' });
    // (the stop ends on its own)
    const code = await new Promise((r) => (a.proc.exitCode !== null ? r(a.proc.exitCode) : a.proc.once('exit', r)));
    expect(code).toBe(0);
  }, 60_000);
});
