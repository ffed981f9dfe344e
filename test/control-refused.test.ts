/**
 * A worker claims nothing until Redis has acknowledged its control subscription (PSUBSCRIBE of
 * the tasks' `-control` channels), and start() waits for it. An ACL user without those channels
 * is refused that subscription for good (NOPERM): start() then rejects with a PermissionError
 * naming the pattern to grant, once the worker has deregistered and closed its connections,
 * rather than waiting forever while it logs a warning a second. The same refusal after start
 * (the user's channels taken away while it runs) cannot fail start(): the worker claims nothing
 * and asks again until it is granted. Real redis-server, real ACL users (ACL SETUSER).
 */
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { aclRule } from '../src/acl.js';
import { Client, Worker, buildKeys } from '../src/index.js';
import { spawnWorker } from './helpers/processes.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let admin: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  admin = r;
});

const names = (keyPrefix: string) => ({ keyPrefix, newQueue: 'new-task', taskSet: 'tasks', taskPrefix: 'task-', endQueue: 'end-task', workerSet: 'workers' });
let users = 0;

/** an ACL user with the worker's rules for `keyPrefix`, less its control channels unless `control` */
async function workerUser(keyPrefix: string, control: boolean): Promise<{ username: string; password: string; controlRule: string }> {
  const username = `w${++users}`;
  const controlRule = `&${buildKeys(names(keyPrefix)).controlPattern}`;
  const rules = aclRule('worker', names(keyPrefix))
    .split(' ')
    .filter((r) => control || r !== controlRule);
  expect(rules.length, 'the worker rule has the control channel').toBe(aclRule('worker', names(keyPrefix)).split(' ').length - (control ? 0 : 1));
  await admin.call('ACL', 'SETUSER', username, ...rules, '>pw');
  cleanup.push(() => admin.call('ACL', 'DELUSER', username));
  return { username, password: 'pw', controlRule };
}

function worker(redis: Record<string, unknown>, logs: string[]) {
  const keep = (m: unknown) => void logs.push(String(m));
  const w = new Worker({ port: 0, redis, heartbeatInterval: 500, fetchTaskInterval: 300, logger: { debug: () => {}, info: () => {}, warn: keep, error: keep } });
  w.addTaskFunction('echo', async (t) => t.data);
  return w;
}

/** the worker's connections Redis still has (its user's) */
async function connectionsOf(username: string): Promise<string[]> {
  const list = String(await admin.call('CLIENT', 'LIST'));
  return list.split('\n').filter((l) => l.includes(` user=${username} `));
}

describe('a control subscription Redis refuses for good (NOPERM)', () => {
  it('fails start() with a PermissionError naming the channel pattern, the worker deregistered and disconnected', async () => {
    const redis = server.options();
    const user = await workerUser(redis.keyPrefix, false);
    const logs: string[] = [];
    const w = worker({ ...redis, username: user.username, password: user.password }, logs);
    cleanup.push(() => w.stop().catch(() => {}));
    const err = await Promise.race([w.start().then(() => 'started', (e: unknown) => e), new Promise((r) => setTimeout(() => r('still waiting'), 8000))]);
    expect(err).toMatchObject({ name: 'PermissionError', code: 'ERR_PERMISSION' });
    const message = (err as Error).message;
    expect(message).toContain(user.controlRule);
    expect(message).toContain(user.username);
    expect(message).toMatch(/NOPERM/);
    expect(message).toMatch(/aclRule|acl\/README\.md/);
    expect(w.state).toBe('stopped');
    // deregistered (it had registered: the refusal came while it did)
    const keys = buildKeys(names(redis.keyPrefix));
    expect(await admin.smembers(keys.workerSet)).toEqual([]);
    expect(await connectionsOf(user.username)).toEqual([]);
    // and asks no more: no retry outlives the worker
    const logged = logs.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(logs.slice(logged)).toEqual([]);
  }, 20_000);

  it('after start, claims nothing while refused, asks again, and claims once granted', async () => {
    const redis = server.options();
    const user = await workerUser(redis.keyPrefix, true);
    const logs: string[] = [];
    const w = worker({ ...redis, username: user.username, password: user.password }, logs);
    cleanup.push(() => w.stop().catch(() => {}));
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    await w.start();
    // the control channels taken away: Redis drops the subscriber connection, whose PSUBSCRIBE
    // is refused once it is back
    const without = aclRule('worker', names(redis.keyPrefix))
      .split(' ')
      .filter((r) => r !== user.controlRule);
    await admin.call('ACL', 'SETUSER', user.username, ...without, '>pw');
    await until(() => logs.some((l) => /control subscription.*NOPERM/s.test(l)), 'the refusal logged', 10_000);
    const id = await c.submit('echo', 1);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await c.get(id))?.state, 'claimed while deaf to control').toBe('QUEUED');
    expect(w.state).not.toBe('stopped');
    const refusals = logs.filter((l) => /control subscription/.test(l)).length;
    // granted again: heard, and the task runs
    await admin.call('ACL', 'SETUSER', user.username, user.controlRule);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
    // one retry at a time: not more than one refusal logged per CONTROL_RETRY_MS (1 s) and so
    expect(refusals).toBeLessThanOrEqual(4);
  }, 30_000);

  it('taken away from a running worker process, does not end it (the refused resubscribe is handled)', async () => {
    const redis = server.options();
    const user = await workerUser(redis.keyPrefix, true);
    const p = await spawnWorker({ port: 0, redis: { ...redis, username: user.username, password: user.password }, heartbeatInterval: 500, fetchTaskInterval: 300 });
    cleanup.push(() => p.kill('SIGKILL'));
    const exited = new Promise<string>((r) => p.proc.once('exit', (code, signal) => r(`exited (${code ?? signal})`)));
    const without = aclRule('worker', names(redis.keyPrefix))
      .split(' ')
      .filter((r) => r !== user.controlRule);
    // Redis drops the subscriber connection; once it is back, its PSUBSCRIBE is refused
    await admin.call('ACL', 'SETUSER', user.username, ...without, '>pw');
    await p.waitFor(/^WARN control subscription failed.*NOPERM/, 10_000);
    expect(await Promise.race([exited, new Promise((r) => setTimeout(() => r('alive'), 2000))])).toBe('alive');
    // granted again: it hears control, and claims
    await admin.call('ACL', 'SETUSER', user.username, user.controlRule);
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', 1);
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded' });
  }, 30_000);
});
