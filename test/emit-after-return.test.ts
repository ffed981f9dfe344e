/**
 * `task.emit()` (and `update()`) called after the task function returned, from a timer or a
 * stream's callback it left running. What the worker says depends on whose task it now is:
 *
 * - the task ended here (its END written): the lease is gone and Redis would refuse the event
 *   without a word, so the worker drops it itself with one warning per run, naming the task and
 *   the event, and runs on; a late update() is refused as a task that ended here;
 * - the task did not end here (its END refused: requeued and claimed elsewhere meanwhile): the
 *   worker must not tell it as ended here. Its late events go on to emit.lua's fence, which
 *   refuses them, and a late update() is refused as a lost lease's.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker, type Task } from '../src/index.js';
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

/** emits `late` at each of these ms after the function returned (and updates at the first) */
function leaveEmitsBehind(task: Task, at: number[]): void {
  for (const ms of at) {
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
  }, at[0]);
}

/** the events heard on a task's channel */
async function heardOn(id: string): Promise<string[]> {
  const heard: string[] = [];
  sub.on('pmessage', (_p, channel, m) => {
    if (channel.endsWith(`${id}-events`)) heard.push((JSON.parse(m) as { event: string }).event);
  });
  await sub.psubscribe(`*${id}-events`);
  return heard;
}

beforeAll(async () => {
  server = await startRedis();
  const redis = server.options();
  keyPrefix = redis.keyPrefix;
  side = server.client();
  // heartbeats far apart: a worker whose task was taken over learns it from its END's refusal
  worker = new Worker({ redis, port: 0, logger: logged.logger, heartbeatInterval: 5000 });
  worker.addTaskFunction('leavesEmitter', async (task) => {
    task.emit('during', 1);
    // three late emits, apart: one warning for the run, and the process runs on
    leaveEmitsBehind(task, [200, 250, 300]);
    return 'done';
  });
  worker.addTaskFunction('takenOver', async (task) => {
    // another claim took the task over (as after a requeue) while the function ran
    await side.hset(`${keyPrefix}task-${task.id}`, 'lease', '99:elsewhere:1', 'worker', 'elsewhere:1');
    leaveEmitsBehind(task, [300, 350]);
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

describe('task.emit after the function returned', () => {
  it('the task ended here: dropped with one warning naming the task and the event, not silently', async () => {
    const heard = await heardOn('late-emitter');
    const id = await client.submit('leavesEmitter', null, { id: 'late-emitter' });
    expect((await client.wait(id, { timeout: 10_000 })).outcome).toBe('succeeded');
    await until(() => emitted.get(id) === 3 || undefined, 'the three late emits', 5000);
    await until(() => updated.get(id), 'the late update', 5000);
    // (a late update is refused as a task that ended here)
    expect(updated.get(id)).toMatchObject({ code: 'ERR_LEASE_LOST', why: 'ended' });
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

  it('its END refused (taken over): not told as ended here, and the fence, not the worker, refuses it', async () => {
    const heard = await heardOn('taken-over');
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
