/**
 * A graceful stop with Redis frozen (SIGSTOP) from before the grace ends until after the stop
 * spends abortTimeout once: the halted functions' time to return and the wait for Redis to take
 * the tasks back share it. The whole stop takes at most stopGrace, one hand-back call's command
 * timeout, abortTimeout, and the leaving's own bounded waits (the lost claims' recovery 2 s, the
 * deregistration 2 s, the connections' QUIT 1 s).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const lines: string[] = [];
const t0 = Date.now();
const log = (k: string) => (m: string) => lines.push(`${Date.now() - t0} ${k} ${m}`);
const quiet = { debug() {}, info: log('info'), warn: log('warn'), error: log('error') };

describe('a graceful stop with Redis frozen throughout', () => {
  it('spends abortTimeout once, even when a function ignores its abort', async () => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    const HB = 1000; // a command's timeout: max(1000, 2 * heartbeatInterval) = 2000 ms
    const stopGrace = 500;
    const abortTimeout = 5000;
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: HB, stopGrace, abortTimeout, logger: quiet });
    let runs = 0;
    // ignores its AbortSignal
    w.addTaskFunction('long', () => new Promise<void>((resolve) => ((runs += 1), setTimeout(resolve, 60_000).unref())));
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    await c.submit('long');
    await until(() => runs === 1, 'running');
    await c.close();
    server.freeze();
    cleanup.push(() => server.thaw());
    const began = Date.now();
    await w.stop();
    const took = Date.now() - began;
    const bound = stopGrace + 2 * HB + abortTimeout + 2000 + 2000 + 1000 + 1000;
    expect(took, `stop() took ${took} ms; the worker said:\n${lines.join('\n')}`).toBeLessThan(bound);
    expect(w.state).toBe('stopped');
  }, 60_000);
});
