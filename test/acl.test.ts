/**
 * The shipped ACL users (acl/task-swarm.acl) on a real redis-server (`--aclfile`): a worker, a
 * monitor, a producer and an operator, each logged in as its own user, do their whole job (tasks with every
 * option, retries, a cancel, a control message, a worker SIGKILLed and its task requeued, a
 * schedule fired, ended tasks reaped) with no permission error; and each is refused outside its
 * rules: the producer cannot claim, renew or requeue, no role (the dashboard's included: its own
 * run is test/dashboard-acl.test.ts) can FLUSHALL, read or write a key outside the swarm, or
 * publish elsewhere.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACL_ROLES, ACL_USERS, aclFile, aclRule, roleCommands, SCRIPT_NAMES, SCRIPT_ROLES, SCRIPT_RUNNERS, type AclRole } from '../src/acl.js';
import { resolveRedisConfig } from '../src/config.js';
import { buildKeys, Client, ConfigError, Monitor, Worker } from '../src/index.js';
import { claimArgs, claimKeys } from '../src/effects/queue.js';
import { library } from '../src/scripts.js';
import { defaultAclFile } from '../tools/gen-docs.js';
import { nodeArgs, spawnServer, type ServerProcess } from './helpers/deployments.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';
import { freePort, until } from './helpers/redis-server.js';
import { runMain } from './helpers/cli.js';

const PASSWORDS: Record<AclRole, string> = { worker: 'worker-pw', monitor: 'monitor-pw', producer: 'producer-pw', operator: 'operator-pw', dashboard: 'dashboard-pw' };
let dir: string;
let server: ServerProcess;
let admin: Redis;
const cleanup: (() => Promise<unknown>)[] = [];
const procs: WorkerProcess[] = [];

/** the `redis` option of `role`, logged in as its user */
const as = (role: AclRole) => ({ port: server.port, username: ACL_USERS[role], password: PASSWORDS[role] });
/** a plain connection as `role`, for the refusals */
function conn(role: AclRole): Redis {
  const c = new Redis({ ...as(role), maxRetriesPerRequest: 0 });
  c.on('error', () => {});
  cleanup.push(async () => c.disconnect());
  return c;
}
/** a logger that keeps every warning and error, to find permission errors in them */
function keeping(lines: string[]) {
  const keep = (...a: unknown[]) => void lines.push(a.map(String).join(' '));
  return { debug: () => {}, info: () => {}, warn: keep, error: keep };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-acl-'));
  const shipped = readFileSync(new URL('../acl/task-swarm.acl', import.meta.url), 'utf8');
  // the shipped file with a password appended to each user, an admin for the test's own
  // assertions, and no default user
  const users = shipped.replace(/^user (task-swarm-(\w+)) (.*)$/gm, (_l, name: string, role: AclRole, rules: string) => `user ${name} ${rules} >${PASSWORDS[role]}`);
  const file = join(dir, 'users.acl');
  writeFileSync(file, `${users}user admin on >admin-pw ~* &* +@all\nuser default off\n`);
  const port = await freePort();
  server = await spawnServer(nodeArgs(port, dir, ['--aclfile', file]), port, { username: 'admin', password: 'admin-pw' });
  admin = new Redis({ port, username: 'admin', password: 'admin-pw' });
});
afterEach(async () => {
  for (const p of procs.splice(0)) await p.kill('SIGKILL');
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(async () => {
  admin?.disconnect();
  await server?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('the shipped ACL file', () => {
  it('is what src/acl.ts makes for the default names (npm run docs)', () => {
    expect(readFileSync(new URL('../acl/task-swarm.acl', import.meta.url), 'utf8')).toBe(defaultAclFile());
  });

  it('places every script with a role, and every role may run scripts', () => {
    for (const name of SCRIPT_NAMES) expect(SCRIPT_ROLES[name], name).toBeDefined();
    for (const role of ACL_ROLES) for (const r of SCRIPT_RUNNERS) expect(roleCommands(role)).toContain(r);
    expect(roleCommands('producer')).not.toContain('function|load');
    expect(roleCommands('dashboard')).not.toContain('function|load');
    expect(roleCommands('worker')).toContain('function|load');
  });

  it('follows the key names of the config: a prefixed swarm gets prefixed patterns, glob characters escaped', () => {
    const rule = aclRule('producer', resolveRedisConfig({ keyPrefix: '{app*}:' }));
    expect(rule).toContain('~{app\\*}:new-task ');
    expect(rule).toContain('~{app\\*}:task-* ');
    expect(rule).toContain('&{app\\*}:task-*-control');
    expect(rule).not.toMatch(/ ~new-task/);
    expect(aclFile(resolveRedisConfig({}))).toContain('user task-swarm-producer reset on -@all ');
  });

  // (a name left out was written "undefined" into every pattern, rules that match none of the
  // swarm's keys; a space split a pattern into two rules Redis refuses to load; a role that is
  // none threw "DIRECT[role] is not iterable")
  it('refuses, with a ConfigError naming it, a name left out, a name holding a space, a role that is none', () => {
    const names = resolveRedisConfig({});
    expect(() => aclFile({ keyPrefix: 'orders:' } as never)).toThrow(/^aclFile: newQueue must be a string \(give every name of the swarm: keyPrefix, newQueue, taskSet, taskPrefix, endQueue, workerSet; the defaults are new-task, tasks, task-, end-task, workers and an empty keyPrefix\), got undefined$/);
    expect(() => aclRule('worker', { ...names, keyPrefix: 'my app:' })).toThrow(/^aclRule: keyPrefix holds a space or a control character, which no ACL rule can carry, got "my app:"$/);
    expect(() => aclRule('admin' as never, names)).toThrow(/^aclRule: role must be one of worker, monitor, producer, operator, dashboard, got "admin"$/);
    for (const make of [() => aclFile({ keyPrefix: 'orders:' } as never), () => aclRule('admin' as never, names)]) expect(make).toThrow(ConfigError);
  });
});

describe('each role with exactly its rules', () => {
  it('a worker, a monitor and a producer do their whole job with no permission error', async () => {
    const logs: string[] = [];
    const w = new Worker({ port: 0, redis: as('worker'), heartbeatInterval: 200, fetchTaskInterval: 300, logger: keeping(logs) });
    w.addTaskFunction('double', async (t) => {
      await new Promise((r) => setTimeout(r, 100)); // (after the test's subscription is made)
      t.emit('progress', { half: true });
      await t.update();
      return (t.data as number) * 2;
    });
    w.addTaskFunction('flaky', async (t) => {
      if (t.attempt < 2) throw new Error('first attempt fails');
      return t.attempt;
    });
    let longStarted = false;
    w.addTaskFunction('long', async (t) => {
      longStarted = true;
      await new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, 10_000);
        t.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(new Error('stopped'));
        });
      });
    });
    const m = new Monitor({ redis: as('monitor'), taskTimeout: 1000, checkTaskInterval: 200, endRetention: 2000, logger: keeping(logs) });
    const c = new Client({ redis: as('producer'), logger: keeping(logs) });
    cleanup.push(() => c.close(), () => m.stop(), () => w.stop());
    await w.start();
    await m.start();

    const events: string[] = [];
    const plain = 'acl-plain';
    // subscribed before its submit: an event sent before that would be gone (pub/sub keeps nothing)
    await c.subscribe(plain, (e) => events.push(e.event)).ready;
    await c.submit('double', 1, { id: plain });
    const ids = [
      plain,
      await c.submit('double', 2, { priority: 5, group: 'tenant-1' }),
      await c.submit('double', 3, { delay: 200 }),
      await c.submit('double', 4, { key: 'dedupe-1' }),
      await c.submit('flaky', null, { attempts: 2, backoff: 50 }),
      ...(await c.submitMany([{ fn: 'double', data: 5 }, { fn: 'double', data: 6, options: { group: 'tenant-2' } }])),
    ];
    const results = await Promise.all(ids.map((id) => c.wait(id, { timeout: 10_000 })));
    expect(results.map((r) => r.outcome)).toEqual(Array(ids.length).fill('succeeded'));
    expect(results.map((r) => r.result)).toEqual([2, 4, 6, 8, 2, 10, 12]);

    // a cancel of a queued task, a stop of a running one
    const queued = await c.submit('nobody-serves-this');
    expect(await c.cancel(queued)).toBe('cancelled');
    const running = await c.submit('long');
    // (its function started: a stop that reaches the worker before its claim's reply is
    // dropped, a known gap of plain control messages: docs/failure-model.md)
    await until(async () => longStarted && (await c.get(running))?.state === 'RUNNING', 'the long task running');
    await c.control(running, 'stop');
    expect((await c.wait(running, { timeout: 10_000 })).outcome).toBe('stopped');

    // a worker (its own process, as the worker user) SIGKILLed mid-task: the monitor requeues
    // the task and the first worker runs it
    const doomed = await spawnWorker({ port: 0, redis: as('worker'), heartbeatInterval: 200 }, [], ['victim']);
    procs.push(doomed);
    w.addTaskFunction('victim', async () => 'survived');
    await w.stop();
    const orphan = await c.submit('victim', { ms: 60_000 });
    await doomed.waitFor(new RegExp(`^STARTED ${orphan} 1`));
    await doomed.kill('SIGKILL');
    const again = new Worker({ port: 0, redis: as('worker'), heartbeatInterval: 200, logger: keeping(logs) });
    again.addTaskFunction('victim', async () => 'survived');
    cleanup.push(() => again.stop());
    await again.start();
    expect(await c.wait(orphan, { timeout: 15_000 })).toMatchObject({ outcome: 'succeeded', result: 'survived', attempt: 2 });

    // a schedule set by the operator, fired by the monitor
    const op = new Client({ redis: as('operator'), logger: keeping(logs) });
    cleanup.push(() => op.close());
    await op.schedule('tick', { every: 200 }, 'victim');
    await until(async () => (await op.schedules())[0]?.lastId, 'the schedule fired by the monitor', 5000);
    expect(await op.unschedule('tick')).toBe(true);

    // the monitor reaped the ended tasks (endRetention 2 s: long enough for each wait above,
    // begun after its submit, to read the ended hash; 0 would race them)
    await until(async () => (await admin.exists(`task-${plain}`)) === 0, 'an ended task reaped', 5000);
    expect(events).toContain('progress');
    expect(logs.filter((l) => /NOPERM|permission/i.test(l))).toEqual([]);
    // the producer may read what the workers serve: its submit of a function none serves was warned of
    expect(logs.filter((l) => l.includes('no live worker serves function "nobody-serves-this"'))).toHaveLength(1);
  }, 60_000);
});

describe('refused outside their rules', () => {
  const keys = buildKeys(resolveRedisConfig({}));
  const request = { worker: '127.0.0.1:1', max: 1, maxPayloadBytes: 1000, functions: [{ name: 'double', room: 1 }], rotation: 0, token: '', acks: [] };

  it('an operator sets limits, pauses and resumes, reads status, and retries and purges dead letters', async () => {
    const logs: string[] = [];
    const op = new Client({ redis: as('operator'), logger: keeping(logs) });
    const producer = new Client({ redis: as('producer') });
    const w = new Worker({ port: 0, redis: as('worker'), heartbeatInterval: 200, maxPayloadBytes: 200, logger: keeping(logs) });
    w.addTaskFunction('echo', async (t) => t.data);
    cleanup.push(() => w.stop(), () => producer.close(), () => op.close());
    await w.start();

    await op.setLimit({ function: 'echo' }, { concurrency: 2, rate: { max: 100, per: 1000 } });
    expect(await op.limits()).toMatchObject([{ function: 'echo', concurrency: 2 }]);
    await op.pause('echo');
    const held = await producer.submit('echo', 'held');
    await new Promise((r) => setTimeout(r, 300));
    expect((await producer.get(held))?.state).toBe('QUEUED');
    expect(await op.stats()).toMatchObject({ functions: { echo: { paused: true } } });
    expect(await op.resume('echo')).toBe(true);
    expect(await producer.wait(held, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'held' });
    await op.setLimit({ function: 'echo' }, null);

    // a task too large for the worker is parked; the operator retries it (still too large: parked
    // again) and purges it
    const big = await producer.submit('echo', 'x'.repeat(300));
    await until(async () => (await op.deadLetters()).length === 1, 'the big task parked');
    const [letter] = await op.deadLetters();
    expect(letter).toMatchObject({ reason: 'too_large', id: big });
    expect(await op.retryDead(letter!.key)).toBe(true);
    await until(async () => (await op.deadLetters()).length === 1 && (await op.deadLetters())[0]!.key !== letter!.key, 'parked again');
    expect(await op.purgeDead((await op.deadLetters())[0]!)).toBe(true);
    expect(await op.deadLetters()).toEqual([]);

    // the CLI as the operator (password from the environment)
    const r = await runMain(['status', '--json', '--redis-url', `redis://task-swarm-operator@127.0.0.1:${server.port}`], { REDIS_PASSWORD: PASSWORDS.operator });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toHaveProperty('workers');
    expect(logs.filter((l) => /NOPERM|permission/i.test(l))).toEqual([]);
  }, 30_000);

  it('a producer cannot claim, renew, requeue, load a function library or touch the leases and workers', async () => {
    await admin.lpush('new-task', JSON.stringify({ id: 'refused-claim', function: 'double', data: 1 }));
    const p = conn('producer');
    const claimed = await p.fcall(library().functions.claim, 10, ...claimKeys(keys, request), ...claimArgs(keys, request)).catch((e: Error) => e);
    expect(claimed).toBeInstanceOf(Error);
    expect((claimed as Error).message).toMatch(/NOPERM/);
    expect(await admin.lrange('new-task', 0, -1)).toContain(JSON.stringify({ id: 'refused-claim', function: 'double', data: 1 }));
    expect(await admin.exists('task-refused-claim')).toBe(0);
    for (const refused of [
      () => p.call('BLMOVE', 'new-task', 'new-task', 'RIGHT', 'RIGHT', '0.01'),
      () => p.zadd('tasks:leases', 0, 'x'),
      () => p.sadd('tasks', 'x'),
      () => p.hset('workers:functions', 'x', '[]'),
      () => p.sadd('new-task:paused', '*'),
      () => p.fcall(library().functions.requeue, 13, keys.leases, keys.taskSet, keys.newQueue, keys.queued, ...keys.deadStore, keys.workerSeen, keys.grace, keys.outage, keys.workerSet, keys.workerFunctions, keys.taskKeyPrefix, 1000, 10, 5, 'm'),
      () => p.function('LOAD', '#!lua name=planted\nredis.register_function("planted", function() return 1 end)'),
    ]) {
      await expect(refused()).rejects.toThrow(/NOPERM/);
    }
  });

  it('no role can FLUSHALL, change the config, list every key, or read or write a key outside the swarm', async () => {
    await admin.set('another-app:secret', 'x');
    for (const role of ACL_ROLES) {
      const c = conn(role);
      for (const refused of [
        () => c.flushall(),
        () => c.call('CONFIG', 'SET', 'appendonly', 'no'),
        () => c.keys('*'),
        () => c.get('another-app:secret'),
        () => c.set('another-app:secret', 'y'),
        () => c.eval("return redis.call('GET', 'another-app:secret')", 0),
        () => c.fcall(library().functions.claim, 10, 'another-app:secret', ...claimKeys(keys, request).slice(1), ...claimArgs(keys, request)),
        () => c.publish('another-app:channel', 'x'),
        () => c.call('ACL', 'LIST'),
      ]) {
        // (a command inside a script is refused with an ERR naming the script)
        await expect(refused(), role).rejects.toThrow(/NOPERM|The user executing the script can't/);
      }
    }
    expect(await admin.get('another-app:secret')).toBe('x');
  });

  it('an operator cannot claim by blocking on the queue, nor read the events of tasks', async () => {
    const o = conn('operator');
    await expect(o.call('BLMOVE', 'new-task', 'new-task', 'RIGHT', 'RIGHT', '0.01')).rejects.toThrow(/NOPERM/);
    await expect(o.call('SUBSCRIBE', 'task-x-events')).rejects.toThrow(/NOPERM/);
  });

  it('a monitor cannot take tasks from the queue by blocking on it, nor listen to control messages', async () => {
    const m = conn('monitor');
    await expect(m.call('BLMOVE', 'new-task', 'new-task', 'RIGHT', 'RIGHT', '0.01')).rejects.toThrow(/NOPERM/);
    await expect(m.call('PSUBSCRIBE', 'task-*-control')).rejects.toThrow(/NOPERM/);
  });
});
