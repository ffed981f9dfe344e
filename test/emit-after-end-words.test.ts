/**
 * `task.emit()` called after the task function returned (a timer or a stream's callback it left
 * running): the task has ended here, its lease is gone, and Redis refused the event without a
 * word, so the event vanished and nobody was told. Now the worker says so in one warning per
 * run, naming the task and the event, and the process runs on; the event is not published.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { collectingLogger } from './helpers/collecting-logger.js';

let server: RedisServer;
let client: Client;
let worker: Worker;
let sub: Redis;
const logged = collectingLogger();
const emitted = new Map<string, number>();

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  worker = new Worker({ redis, port: 0, logger: logged.logger });
  worker.addTaskFunction('leavesEmitter', async (task) => {
    task.emit('during', 1);
    // three late emits, apart: one warning for the run, and the process runs on
    for (const ms of [200, 250, 300]) {
      setTimeout(() => {
        task.emit('late', ms);
        emitted.set(task.id, (emitted.get(task.id) ?? 0) + 1);
      }, ms);
    }
    return 'done';
  });
  await worker.start();
  client = new Client({ redis, logger: logged.logger });
  sub = new Redis(server.port);
});
afterAll(async () => {
  sub.disconnect();
  await client.close();
  await worker.stop();
  await server.stop();
});

describe('task.emit after the function returned', () => {
  it('is dropped with one warning naming the task and the event, not silently', async () => {
    const heard: string[] = [];
    sub.on('pmessage', (_p, _c, m) => heard.push((JSON.parse(m) as { event: string }).event));
    await sub.psubscribe('*late-emitter-events');
    const id = await client.submit('leavesEmitter', null, { id: 'late-emitter' });
    expect((await client.wait(id, { timeout: 10_000 })).outcome).toBe('succeeded');
    await until(() => emitted.get(id) === 3 || undefined, 'the three late emits', 5000);
    await new Promise((r) => setTimeout(r, 200));
    const warnings = logged.lines.filter((l) => l.includes('late-emitter'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/task "late-emitter": emit\("late"\) came after its function returned and the task ended here; the event is dropped/);
    // (the channel is heard: what came before the end came through)
    expect(heard).toEqual(['during', 'end']);
    // the worker took the next task as before
    const next = await client.submit('leavesEmitter', null);
    expect((await client.wait(next, { timeout: 10_000 })).outcome).toBe('succeeded');
  });
});
