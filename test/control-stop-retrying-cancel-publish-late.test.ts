/**
 * A control `stop` (or a cancel) of a task's retry that runs marks it (`cancelling`, cancel.lua).
 * The Client published the stop after that, in a second command: the next attempt failing
 * between the two (its END asks a retry, which the mark writes as the task's end, `stopped`,
 * answered 2: the worker forgets what it kept for the id), the stop published after reached a worker that no longer held the claim:
 * kept for a claim of the id (src/early-control.ts), it reached the same id submitted again at
 * once (its hash cleaned up, as endRetention 0 does), which ended `stopped` though no one
 * stopped it. cancel.lua now publishes the stop itself, in the step that marks the task, so no
 * stop can be published after its run has ended: the Client sends no PUBLISH of its own.
 *
 * The test sends the stop once the retry is claimed, and holds the attempt's failure until the
 * stop has answered.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { buildKeys } from '../src/keys.js';
import { resolveRedisConfig } from '../src/config.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const aborted = (signal: AbortSignal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));

describe('a stop of a retry that runs, the attempt failing as the stop answers', () => {
  it('does not stop the same id submitted again', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2000 });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let runs = 0;
    w.addTaskFunction('flaky', async () => {
      runs++;
      if (runs === 2) await gate;
      throw new Error(`attempt ${runs} fails`);
    });
    w.addTaskFunction('fresh', (t) => Promise.race([aborted(t.signal).then(() => 'stopped'), sleep(500).then(() => 'ran')]));
    const c = new Client({ redis: o });
    cleanup.push(
      () => c.close(),
      () => w.stop(),
    );
    await w.start();
    const inner = c as unknown as { redis: Redis };
    // a PUBLISH of the Client's own, after the cancel, would come when the run had ended
    let published = false;
    const publish = inner.redis.publish.bind(inner.redis);
    (inner.redis as unknown as { publish: (ch: string, m: string) => Promise<number> }).publish = async (ch: string, m: string) => {
      published = true;
      return publish(ch, m);
    };

    const x = await c.submit('flaky', null, { id: 'x', attempts: 3, backoff: 300 });
    // the stop comes once the retry is claimed; the attempt fails once it answered
    await until(async () => (await c.get(x))?.state === 'DELAYED', 'the task in its backoff');
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the retry claimed');
    expect(await c.control(x, 'stop')).toBe('stopping');
    open();
    expect(published).toBe(false);
    const first = await c.wait(x, { timeout: 5000 });
    expect({ runs, outcome: first.outcome }).toEqual({ runs: 2, outcome: 'stopped' });

    // the task cleaned up (as endRetention 0 does), the id submitted again: a new task
    await redis.del(keys.task(x));
    await c.submit('fresh', null, { id: x });
    const end = await c.wait(x, { timeout: 5000 });
    expect({ outcome: end.outcome, result: end.result }).toEqual({ outcome: 'succeeded', result: 'ran' });
  }, 30_000);
});
