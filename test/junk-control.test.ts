/**
 * Junk on the control channels: anything that reaches Redis can PUBLISH there, for a task a
 * worker runs, for one it does not, on channel names of any shape. The worker process stays
 * alive, answers each junk message for its own task with one `control-error` event, takes a
 * real `stop` after all of it, and runs the next task as usual.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, type TaskEvent } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { spawnWorker } from './helpers/processes.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

/** messages that are not `stop`, `reload` or `{"event_name": "<non-empty>", ...}` */
const junkMessage: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.string({ maxLength: 40 }).filter((s) => !['stop', 'reload'].includes(s.trim()) && !/^"\s*(stop|reload)\s*"$/.test(s.trim())),
  fc.constantFrom('null', '42', '[]', '[1,2]', '{}', '{"event_name":""}', '{"event_name":5}', '{"event_name":null}', '"STOP"', 'stop!', ' reload ?', '{"event_name":'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)).filter((t) => {
    const v = JSON.parse(t) as unknown;
    return !(v === 'stop' || v === 'reload' || (v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as { event_name?: unknown }).event_name === 'string' && (v as { event_name: string }).event_name !== ''));
  }),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.concat([Buffer.from([0xff, 0x00]), b])),
  fc.integer({ min: 100_000, max: 2_000_000 }).map((n) => `{"event_name":"x","event":"${'y'.repeat(n)}"}`.slice(0, n)), // huge, cut: not JSON
);

describe('junk on control channels', () => {
  it('never kills a worker: its own task gets one control-error per junk message and still takes a real stop', async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o });
    const c = new Client({ redis: o });
    const redis = server.client();
    try {
      const id = await c.submit('sleep', { ms: 60_000 });
      await w.waitFor(new RegExp(`^STARTED ${id} 1$`));
      const events: TaskEvent[] = [];
      c.subscribe(id, (e) => events.push(e));
      // subscribed for real before the first junk (under load, a fixed pause was not enough)
      const eventsChannel = `${o.keyPrefix}task-${id}-events`;
      await until(async () => Number(((await redis.pubsub('NUMSUB', eventsChannel)) as [string, number])[1]) >= 1, 'the client subscribed', 10_000);
      const junk = fc.sample(junkMessage, { numRuns: 150 });
      const channel = `${o.keyPrefix}task-${id}-control`;
      const errors = () => events.filter((e) => e.event === 'control-error').length;
      for (const [k, m] of junk.entries()) {
        await redis.publish(channel, m);
        // junk for tasks nobody runs here, on odd names the worker's pattern still matches
        await redis.publish(`${o.keyPrefix}task-${String(m).slice(0, 20)}-control`, m);
        await redis.publish(`${o.keyPrefix}task--control`, m);
        await redis.publish(`${o.keyPrefix}task-ghost-control`, 'stop');
        // One message at a time: pub/sub is lossy by design, and megabytes of junk published
        // faster than a loaded worker reads them overflow its subscriber's output buffer in Redis
        // (client-output-buffer-limit pubsub), which then drops the connection and the messages
        // in it. That is Redis's rule, not the worker's answer to junk, which is what this tests.
        await until(() => errors() === k + 1, `a control-error for junk message ${k + 1}`, 10_000);
      }
      expect(errors()).toBe(junk.length);
      expect(w.proc.exitCode).toBeNull();
      // the task took none of it for a command: still running, and a real stop ends it
      expect((await c.get(id))?.state).toBe('RUNNING');
      await c.control(id, 'stop');
      expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'stopped' });
      const next = await c.submit('echo', 'after');
      expect(await c.wait(next, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'after' });
    } finally {
      await c.close();
      await w.kill('SIGKILL');
    }
  });
});
