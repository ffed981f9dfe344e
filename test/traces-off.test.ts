/**
 * Without tracing, nothing of it: with @opentelemetry/api installed and no SDK registered, no
 * context goes in the entries and tasks run as always; with the API not to be found at all (a
 * worker process whose resolution of it fails), a worker runs tasks, those carrying a context
 * included.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { otelApi, tracer } from '../src/telemetry/otel.js';
import { spawnWorker } from './helpers/processes.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const WITHOUT_OTEL = fileURLToPath(new URL('./fixtures/without-otel.mjs', import.meta.url));

describe('tracing off', () => {
  it('with the API and no SDK: no tracer, no context in the entries, tasks run', async () => {
    expect(otelApi()).toBeDefined();
    expect(tracer()).toBeUndefined();
    const o = server.options();
    const w = new Worker({ port: 0, redis: o });
    w.addTaskFunction('echo', (t) => t.data);
    cleanup.push(() => w.stop());
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const [a, b] = [await c.submit('echo', 1), (await c.submitMany([{ fn: 'echo', data: 2 }]))[0]!];
    expect(await c.wait(a, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 1 });
    expect(await c.wait(b, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 2 });
    for (const id of [a, b]) expect(JSON.parse((await redis.hget(`${o.keyPrefix}task-${id}`, 'data'))!)).not.toHaveProperty('trace');
  });

  it('with no API to be found: a worker runs tasks, one that carries a context too', async () => {
    const o = server.options();
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-no-otel-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const log = join(dir, 'blocked');
    const w = await spawnWorker({ port: 0, redis: o }, ['env', `NODE_OPTIONS=--import ${WITHOUT_OTEL}`, `OTEL_BLOCKED_LOG=${log}`]);
    cleanup.push(() => w.kill());
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const traced = { id: 'with-context', function: 'echo', data: 'x', trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } };
    await redis.lpush(`${o.keyPrefix}new-task`, JSON.stringify(traced));
    const plain = await c.submit('echo', 'y');
    expect(await c.wait('with-context', { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'x' });
    expect(await c.wait(plain, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'y' });
    // the worker did look for the API, and was refused it
    expect(readFileSync(log, 'utf8')).toMatch(/src[\\/]telemetry[\\/]otel\.ts/);
    expect(w.lines.filter((l) => /^(WARN|ERROR) /.test(l))).toEqual([]);
  });
});
