/**
 * With an OpenTelemetry SDK registered, each task a worker claims gets an attempt span, kept
 * open (by task id) until its task machine lets the claim go. A claim answered after the worker
 * reconnected (its request went out before the drop, ioredis sent it again after) is stale: its
 * tasks go straight back to the queue without a task machine, and run elsewhere. Their attempt
 * spans were never ended: each stayed in the worker's memory, unexported, for as long as the
 * worker ran, one more at every such hand-back (a few per connection drop under load), unless
 * the same worker claimed that id again.
 *
 * A claimed task handed back so ends its attempt span, as `handed_back`.
 */
import type { Redis } from 'ioredis';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { proxyToRedis } from './helpers/tcp-proxy.js';
import { quiet } from './helpers/order.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the attempt spans a worker keeps open (src/telemetry/task-spans.ts) */
const openSpans = (w: Worker) => {
  const spans = (w as unknown as { telemetry: { spans: { live: Map<string, unknown>; finishing: Map<unknown, unknown> } } }).telemetry.spans;
  return spans.live.size + spans.finishing.size;
};

describe('a traced worker whose claims are answered after it reconnected', () => {
  it('keeps no attempt span open for the tasks it handed back, once they have run elsewhere', async () => {
    const proxy = await proxyToRedis(server, cleanup);
    const o = server.options();
    const fn = async () => {
      await sleep(5);
      return 1;
    };
    // the traced worker, its connections through a link cut again and again
    const w = new Worker({ port: 0, redis: { ...o, port: proxy.port }, logger: quiet, concurrency: 8, heartbeatInterval: 200, fetchTaskInterval: 200 });
    w.addTaskFunction('f', fn);
    // its tasks handed back as stale answers (observed, not changed)
    const internals = w as unknown as { handBackClaimed(tasks: unknown[]): void };
    const handBack = internals.handBackClaimed.bind(w);
    let handedBack = 0;
    internals.handBackClaimed = (tasks) => {
      handedBack += tasks.length;
      handBack(tasks);
    };
    cleanup.push(() => w.stop());
    await w.start();
    // another worker, on a link that holds, runs what the first hands back
    const other = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 8 });
    other.addTaskFunction('f', fn);
    cleanup.push(() => other.stop());
    await other.start();
    const c = new Client({ redis: o, logger: quiet });
    cleanup.push(() => c.close());

    const ids: string[] = [];
    // cut while claims are on their way, until one came back stale with tasks (a few dozen cuts)
    for (let k = 0; k < 400 && handedBack === 0; k++) {
      ids.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => c.submit('f', i)))));
      proxy.delay(20);
      await sleep(Math.random() * 60);
      proxy.reset();
      await sleep(30);
      proxy.heal();
      await sleep(50);
    }
    expect(handedBack).toBeGreaterThan(0);
    await Promise.all(ids.map((id) => c.wait(id, { timeout: 60_000 })));
    // every task has ended; the traced worker holds none of them: none of its spans is left open
    await until(() => (w as unknown as { tasks: Map<string, unknown> }).tasks.size === 0, 'the traced worker idle');
    await sleep(500);
    expect(openSpans(w)).toBe(0);
    expect(exporter.getFinishedSpans().filter((s) => s.attributes['task_swarm.outcome'] === 'handed_back').length).toBeGreaterThan(0);
    await redis.ping();
  }, 120_000);
});
