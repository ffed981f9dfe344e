/**
 * A graceful stop with Redis frozen (SIGSTOP) from before the grace ends until after the stop
 * takes at most stopGrace, one hand-back call's command timeout (max(1000, 2 * heartbeatInterval)),
 * abortTimeout, and the leaving's own bounded waits (the lost claims' recovery 2 s, the
 * deregistration 2 s, the connections' QUIT 1 s), whatever abortTimeout is against the command
 * timeout: the hand-back from memory of the tasks the stop's hand-back left is tried for
 * abortTimeout, its first try included, and no try runs a command timeout past it.
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
  it.each([
    // (one retry of the hand-back from memory fits before abortTimeout ends, and a second begins just before)
    { heartbeatInterval: 2500, abortTimeout: 5500, what: 'a command timeout of 5 s, abortTimeout 5.5 s' },
    // (abortTimeout shorter than a command timeout: the first try, too, ends with it)
    { heartbeatInterval: 5000, abortTimeout: 1000, what: 'a command timeout of 10 s, abortTimeout 1 s' },
  ])("$what: is over within stopGrace, one command timeout, abortTimeout and the leaving's waits", async ({ heartbeatInterval, abortTimeout }) => {
    lines.length = 0;
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const o = server.options();
    // a command's timeout: max(1000, 2 * heartbeatInterval)
    const commandTimeout = 2 * heartbeatInterval;
    const stopGrace = 500;
    const w = new Worker({ port: 0, redis: o, heartbeatInterval, stopGrace, abortTimeout, logger: quiet });
    let runs = 0;
    w.addTaskFunction('long', ({ signal }) => new Promise<void>((resolve) => ((runs += 1), signal.addEventListener('abort', () => resolve()))));
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
    const bound = stopGrace + commandTimeout + abortTimeout + 2000 + 2000 + 1000 + 500;
    expect(took, `stop() took ${took} ms (bound ${bound}); the worker said:\n${lines.join('\n')}`).toBeLessThan(bound);
    expect(w.state).toBe('stopped');
  }, 60_000);
});
