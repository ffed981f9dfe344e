/**
 * A graceful stop with Redis frozen (SIGSTOP, never back during the stop) halts its running
 * tasks within stopGrace and one hand-back call's command timeout: the hand-back goes first, and
 * a renew (re-asserting what a Redis restarted empty lost) follows only when Redis answered it
 * and fewer tasks went back than were asked. A renew first waited a command timeout more.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const lines: string[] = [];
const quiet = { debug() {}, info: (m: string) => lines.push(`${Date.now()} info ${m}`), warn: (m: string) => lines.push(`${Date.now()} warn ${m}`), error: (m: string) => lines.push(`${Date.now()} error ${m}`) };

describe('a graceful stop with Redis gone', () => {
  it('Redis frozen: the running task is aborted within stopGrace + one command timeout (one hand-back try)', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const c = new Client({ redis: o });
    const HB = 2500; // a command's timeout: max(1000, 2 * heartbeatInterval) = 5000 ms
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: HB, stopGrace: 500, abortTimeout: 500, logger: quiet });
    let runs = 0;
    let abortedAt = 0;
    w.addTaskFunction('long', async ({ signal }) => {
      runs++;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 60_000);
        signal.addEventListener('abort', () => ((abortedAt = Date.now()), clearTimeout(t), resolve()));
      });
      return 'done';
    });
    cleanup.push(() => c.close(), () => w.stop());
    await w.start();
    await c.submit('long');
    await until(() => runs === 1, 'running');
    await c.close();
    server.freeze();
    cleanup.push(() => server.thaw());
    const t0 = Date.now();
    await w.stop();
    const total = Date.now() - t0;
    const toAbort = abortedAt - t0;
    // stopGrace 500 + one hand-back call's timeout (5000) + slack
    expect(toAbort, `aborted ${toAbort} ms after stop(), which took ${total} ms; the worker said:\n${lines.join('\n')}`).toBeLessThan(500 + 5000 + 1500);
  }, 30_000);
});
