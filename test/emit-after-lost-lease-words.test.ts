/**
 * `task.emit()` after the function returned, when the task did not end here: its END was
 * refused (the task requeued and claimed elsewhere meanwhile), or the copy was given up. The
 * worker warned that the task "ended here" and dropped the event itself: a wrong account of a
 * task now another worker's, and the event never reached emit.lua's fence. Only a copy whose END
 * this worker wrote is told so; a copy given up sends its late events on, for the fence to refuse,
 * and its late update() is refused as a lost lease's, not as a task that had ended here.
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
let side: Redis;
let keyPrefix: string;
const logged = collectingLogger();
const emitted = new Map<string, number>();
const updated = new Map<string, unknown>();

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  keyPrefix = redis.keyPrefix;
  side = server.client();
  // heartbeats far apart: the worker learns its lease is gone from its END's refusal
  worker = new Worker({ redis, port: 0, logger: logged.logger, heartbeatInterval: 5000 });
  worker.addTaskFunction('takenOver', async (task) => {
    // another claim took the task over (as after a requeue) while the function ran
    await side.hset(`${keyPrefix}task-${task.id}`, 'lease', '99:elsewhere:1', 'worker', 'elsewhere:1');
    for (const ms of [300, 350]) {
      setTimeout(() => {
        task.emit('late', ms);
        emitted.set(task.id, (emitted.get(task.id) ?? 0) + 1);
      }, ms);
    }
    setTimeout(() => {
      task.update().then(
        () => updated.set(task.id, 'answered'),
        (e: unknown) => updated.set(task.id, e),
      );
    }, 300);
    return 'done';
  });
  await worker.start();
  client = new Client({ redis, logger: logged.logger });
  sub = new Redis(server.port);
});
afterAll(async () => {
  sub.disconnect();
  side.disconnect();
  await client.close();
  await worker.stop();
  await server.stop();
});

describe('task.emit after the function returned, its END refused', () => {
  it('is not told as a task that ended here, and the fence, not the worker, refuses it', async () => {
    const heard: string[] = [];
    sub.on('pmessage', (_p, _c, m) => heard.push((JSON.parse(m) as { event: string }).event));
    await sub.psubscribe('*taken-over-events');
    const id = await client.submit('takenOver', null, { id: 'taken-over' });
    await until(() => logged.lines.some((l) => l.includes('END refused')) || undefined, 'the END refused', 10_000);
    await until(() => emitted.get(id) === 2 || undefined, 'the two late emits', 5000);
    // (a late update says the same: the lease was lost, not that the task ended here)
    await until(() => updated.get(id), 'the late update', 5000);
    expect(updated.get(id)).toMatchObject({ code: 'ERR_LEASE_LOST', why: 'lost' });
    await new Promise((r) => setTimeout(r, 300));
    const lines = logged.lines.filter((l) => l.includes('taken-over'));
    expect(lines.some((l) => /END refused, our lease is gone/.test(l))).toBe(true);
    expect(lines.filter((l) => /ended here/.test(l))).toEqual([]);
    // the other claim's channel heard nothing of ours
    expect(heard).toEqual([]);
    expect(await side.hget(`${keyPrefix}task-${id}`, 'lease')).toBe('99:elsewhere:1');
  });
});
