/**
 * A worker paused (SIGSTOP) past taskTimeout while its claim ran, the id cleaned up and
 * submitted again meanwhile, and claimed by the same worker once it resumes: the new claim's
 * lease is not the old one's (`<claims>.<token>:<worker>`; the count alone started over with the
 * new hash). What Redis answered about the old copy's lease (its heartbeat, its refused END) was
 * taken for the new claim, and the new submission was aborted as "lease lost", requeued by the
 * monitor as died and run a second time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client, Monitor } from '../src/index.js';
import { startRedis, until } from './helpers/redis-server.js';
import { spawnWorker } from './helpers/processes.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('a worker paused past taskTimeout while its id is cleaned up and submitted again', () => {
  it('the new submission runs once (attempt 1), not aborted for the old claim’s lost lease', async () => {
    const s = await startRedis();
    cleanup.push(() => s.stop());
    const o = s.options();
    const a = await spawnWorker({ port: 0, heartbeatInterval: 100, abortTimeout: 500, concurrency: 4, fetchTaskInterval: 200, redis: o });
    cleanup.push(() => a.kill());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = 'paused-same-id';
    await c.submit('sleep', { ms: 400 }, { id });
    await a.waitFor(new RegExp(`^STARTED ${id} 1$`));
    await new Promise((r) => setTimeout(r, 340)); // its last step is under way
    a.proc.kill('SIGSTOP');
    const m = new Monitor({ redis: o, taskTimeout: 1000, checkTaskInterval: 100, endRetention: 0, logger: quiet });
    await m.start();
    cleanup.push(() => m.stop());
    await until(async () => (await c.get(id))?.state === 'QUEUED', 'requeued by the monitor', 10_000);
    await c.cancel(id);
    await until(async () => (await c.get(id)) === null, 'ended and cleaned up (endRetention 0)', 10_000);
    await c.submit('sleep', { ms: 1600 }, { id });
    a.proc.kill('SIGCONT');
    const t = await c.wait(id, { timeout: 15_000 });
    const said = a.lines.filter((l) => !l.startsWith('STATE')).join('\n');
    expect({ outcome: t.outcome, attempt: t.attempt, history: t.history?.map((h) => h.outcome) }, `the worker said:\n${said}`).toEqual({
      outcome: 'succeeded',
      attempt: 1,
      history: ['succeeded'],
    });
  }, 40_000);
});
