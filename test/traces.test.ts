/**
 * Traces with an OpenTelemetry SDK registered (an in-memory exporter): a task submitted inside a
 * producer's span is one trace from that span to its END (claim, attempt, run, end spans, each
 * under the one before, the task function's own spans under its run), retries included; the
 * context travels in the task entry as W3C trace context. Entries without one, or with junk in
 * its place, start a trace at their claim and run as any other.
 */
import type { Redis } from 'ioredis';
import { context, propagation, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const producer = trace.getTracer('the-app');

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
beforeEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const named = (name: string) => spans().filter((s) => s.name === name);
const one = (name: string) => {
  const found = named(name);
  expect(found.map((s) => s.name), `spans named ${name}`).toEqual([name]);
  return found[0]!;
};

async function swarm(): Promise<{ client: Client; keyPrefix: string }> {
  const o = server.options();
  const w = new Worker({ port: 0, redis: o, heartbeatInterval: 200, fetchTaskInterval: 200 });
  // a task function with a span of its own: it must nest under the run that runs it
  w.addTaskFunction('resize', async (t) => producer.startActiveSpan('inside the task', async (s) => {
    await new Promise((r) => setTimeout(r, 20));
    s.end();
    return t.data;
  }));
  w.addTaskFunction('flaky', (t) => {
    if (t.attempt === 1) throw new Error('first attempt fails');
    return 'second';
  });
  cleanup.push(() => w.stop());
  await w.start();
  const client = new Client({ redis: o });
  cleanup.push(() => client.close());
  return { client, keyPrefix: o.keyPrefix };
}

/** the task's attempt spans, once they are all ended (the END is written before its span ends) */
const attemptsOf = (id: string, n = 1) =>
  until(() => {
    const found = spans().filter((s) => s.name.startsWith('attempt ') && s.attributes['task_swarm.task.id'] === id);
    return found.length === n ? found : undefined;
  }, `${n} attempt span(s) of ${id}`);

describe('a task submitted inside a producer span', () => {
  it('is one trace: producer > claim > attempt > run (> the function\'s own spans) and end; submit beside them', async () => {
    const { client, keyPrefix } = await swarm();
    let root!: ReadableSpan['spanContext'] extends () => infer C ? C : never;
    const id = await producer.startActiveSpan('handle request', async (span) => {
      root = span.spanContext();
      const taskId = await client.submit('resize', { w: 640 });
      span.end();
      return taskId;
    });
    expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    const [attempt] = await attemptsOf(id);

    // the context went in the entry, as W3C trace context
    const entry = JSON.parse((await redis.hget(`${keyPrefix}task-${id}`, 'data'))!) as { trace: { traceparent: string } };
    expect(entry.trace.traceparent).toBe(`00-${root.traceId}-${root.spanId}-01`);

    const claim = one('claim resize');
    const run = one('run resize');
    const end = one('end resize');
    const inside = one('inside the task');
    const submit = one('submit resize');
    for (const s of [claim, attempt!, run, end, inside, submit]) expect(s.spanContext().traceId, s.name).toBe(root.traceId);
    expect(parentOf(submit)).toBe(root.spanId);
    expect(parentOf(claim)).toBe(root.spanId);
    expect(parentOf(attempt!)).toBe(claim.spanContext().spanId);
    expect(parentOf(run)).toBe(attempt!.spanContext().spanId);
    expect(parentOf(end)).toBe(attempt!.spanContext().spanId);
    expect(parentOf(inside)).toBe(run.spanContext().spanId);

    expect(claim.attributes).toMatchObject({ 'task_swarm.task.id': id, 'task_swarm.function': 'resize', 'task_swarm.attempt': 1 });
    expect(attempt!.attributes['task_swarm.outcome']).toBe('succeeded');
    expect(attempt!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(end.attributes).toMatchObject({ 'task_swarm.written': true, 'task_swarm.outcome': 'succeeded' });
    expect(submit.attributes['messaging.message.id']).toBe(id);
  });

  it('keeps every attempt of a retried task in its trace, the failed one marked', async () => {
    const { client } = await swarm();
    const [id, traceId, rootId] = await producer.startActiveSpan('enqueue', async (span) => {
      const taskId = await client.submit('flaky', null, { attempts: 2 });
      span.end();
      return [taskId, span.spanContext().traceId, span.spanContext().spanId] as const;
    });
    expect(await client.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', attempt: 2 });
    const attempts = (await attemptsOf(id, 2)).sort((a, b) => Number(a.attributes['task_swarm.attempt']) - Number(b.attributes['task_swarm.attempt']));
    const claims = named('claim flaky');
    expect(claims).toHaveLength(2);
    for (const s of [...claims, ...attempts]) expect(s.spanContext().traceId).toBe(traceId);
    for (const c of claims) expect(parentOf(c)).toBe(rootId);
    expect(attempts[0]!.attributes['task_swarm.outcome']).toBe('retry');
    expect(attempts[0]!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'first attempt fails' });
    expect(attempts[1]!.attributes['task_swarm.outcome']).toBe('succeeded');
    const failedRun = named('run flaky').find((s) => parentOf(s) === attempts[0]!.spanContext().spanId)!;
    expect(failedRun.events.map((e) => e.name)).toContain('exception');
  });
});

describe('a task without a producer span, or without a context', () => {
  it('submitted outside any span: its submit span is the root of its trace', async () => {
    const { client } = await swarm();
    const id = await client.submit('resize', 1);
    await client.wait(id, { timeout: 10_000 });
    await attemptsOf(id);
    const submit = one('submit resize');
    expect(parentOf(submit)).toBeUndefined();
    expect(parentOf(one('claim resize'))).toBe(submit.spanContext().spanId);
  });

  it('pushed by hand, or with junk where the context goes: its trace starts at its claim, and it runs', async () => {
    const { client, keyPrefix } = await swarm();
    const entries = [
      { id: 'by-hand', function: 'resize', data: '{}' },
      { id: 'junk-string', function: 'resize', data: 1, trace: 'junk' },
      { id: 'junk-values', function: 'resize', data: 2, trace: { traceparent: 5, tracestate: ['x'] } },
      { id: 'junk-parent', function: 'resize', data: 3, trace: { traceparent: '00-not-a-context-01' } },
    ];
    await redis.lpush(`${keyPrefix}new-task`, ...entries.map((e) => JSON.stringify(e)));
    for (const e of entries) expect(await client.wait(e.id, { timeout: 10_000 }), e.id).toMatchObject({ outcome: 'succeeded' });
    for (const e of entries) await attemptsOf(e.id);
    const claims = named('claim resize');
    expect(claims).toHaveLength(4);
    for (const c of claims) expect(parentOf(c)).toBeUndefined();
  });
});
