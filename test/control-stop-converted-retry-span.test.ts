/**
 * A stop (control `stop` through the Client) that marks a task whose function has failed, its
 * retry END not written yet: finish.lua writes that END as the task's end, `stopped`, answered 2.
 * The worker counted it `stopped` (worker telemetry), but its trace said the attempt ended
 * `retry` (attempt and end spans), an error, for a task whose hash says `stopped` and which has
 * no next attempt: the trace now says `stopped` too. The END is held back as in control-stop-kept-after-converted-retry.test.ts
 * (Q:delayed written as a string: a retry's END is refused until it is mended).
 */
import type { Redis } from 'ioredis';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});

describe('a failed attempt whose retry END a stop turned into the task\'s end', () => {
  it('is traced as the end it was written as: stopped, not retry', async () => {
    const o = server.options();
    const keys = buildKeys(resolveRedisConfig(o));
    const w = new Worker({ port: 0, redis: o, heartbeatInterval: 2000 });
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    w.addTaskFunction('flaky', async () => {
      await gate;
      throw new Error('first attempt fails');
    });
    const c = new Client({ redis: o });
    cleanup.push(
      async () => redis.del(keys.delayed),
      () => c.close(),
      () => w.stop(),
    );
    await w.start();
    const x = await c.submit('flaky', null, { attempts: 3, backoff: 0 });
    await until(async () => (await c.get(x))?.state === 'RUNNING', 'the task running');
    await redis.set(keys.delayed, 'damaged');
    open();
    await sleep(300);
    expect((await c.get(x))?.state).toBe('RUNNING');
    await c.control(x, 'stop');
    await sleep(100);
    await redis.del(keys.delayed);
    expect(await c.wait(x, { timeout: 5000 })).toMatchObject({ outcome: 'stopped' });
    const attempt = await until(() => exporter.getFinishedSpans().find((s) => s.name === 'attempt flaky' && s.attributes['task_swarm.task.id'] === x), 'the attempt span');
    expect(attempt.attributes['task_swarm.outcome']).toBe('stopped');
  }, 30_000);
});
