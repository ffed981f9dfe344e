/**
 * The CLI's side of order (issue 9): submit --priority/--group, limit, limits, pause, resume and
 * what status says of functions, against a private Redis and a real worker. Each mistake is one
 * line on stderr with exit status 2, and writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Worker } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { cliSwarm, expectOneLine, runMain } from './helpers/cli.js';

let server: RedisServer;
let redis: Redis;
let n = 0;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});

/** a swarm of its own: a fresh key prefix, the CLI run against it, and a Client of it */
const swarm = () => cliSwarm(server, redis, `order${++n}:`);

const oneLine = expectOneLine;

describe('task-swarm submit --priority --group', () => {
  it("places the task in its function's queue at once, with its options, read back by get", async () => {
    const s = swarm();
    const r = await s.run('submit', 'resize', '{"w":1}', '--priority', '7', '--group', 'tenant-42', '--id', 'p1');
    expect(r).toMatchObject({ code: 0, stdout: 'p1\n', stderr: '' });
    expect(await s.client.get('p1')).toMatchObject({ state: 'QUEUED', function: 'resize', priority: 7, group: 'tenant-42', data: { w: 1 } });
    expect(JSON.parse((await redis.hget(`${s.prefix}task-p1`, 'data'))!)).toEqual({ id: 'p1', function: 'resize', data: { w: 1 }, priority: 7, group: 'tenant-42' });
    await s.client.close();
  });

  const mistakes: [string, string[], RegExp][] = [
    ['a priority over 1000', ['--priority', '1001'], /--priority must be an integer <= 1000, got "1001"/],
    ['a priority under -1000', ['--priority=-1001'], /--priority must be an integer >= -1000, got "-1001"/],
    ['a priority far under any integer', ['--priority=-99999999999999999999'], /--priority must be an integer >= -1000, got "-99999999999999999999"/],
    ['a priority that is not an integer', ['--priority', '1.5'], /--priority must be an integer, got "1.5"/],
    ['an empty group', ['--group', ''], /group must be a string of 1 to 128 bytes/],
    ['a group over 128 bytes', ['--group', 'é'.repeat(65)], /group must be a string of 1 to 128 bytes/],
  ];
  for (const [what, flags, message] of mistakes) {
    it(`${what}: one line, exit 2, nothing written`, async () => {
      const s = swarm();
      oneLine(await s.run('submit', 'resize', ...flags), 2, message);
      expect(await s.keys()).toEqual([]);
      await s.client.close();
    });
  }
});

describe('task-swarm limit / limits', () => {
  it('sets, shows, replaces and removes limits on functions and groups', async () => {
    const s = swarm();
    expect(await s.run('limit', 'charge', '--concurrency', '20', '--rate', '100/1s')).toMatchObject({
      code: 0,
      stdout: 'function "charge": concurrency 20, rate 100 per 1000 ms (running 0)\n',
    });
    expect((await s.run('limit', '--group', 'tenant-42', '--concurrency', '2')).stdout).toBe('group "tenant-42": concurrency 2 (running 0)\n');
    expect((await s.run('limit', 'mail', '--rate', '5/1m')).stdout).toBe('function "mail": rate 5 per 60000 ms (running 0)\n');
    // setting again replaces: the rate is gone
    expect((await s.run('limit', 'charge', '--concurrency', '3')).stdout).toBe('function "charge": concurrency 3 (running 0)\n');
    expect(await s.client.limits()).toEqual([
      { function: 'charge', concurrency: 3, running: 0 },
      { function: 'mail', rate: { max: 5, per: 60_000 }, running: 0 },
      { group: 'tenant-42', concurrency: 2, running: 0 },
    ]);
    expect(JSON.parse((await s.run('limits', '--json')).stdout)).toEqual(await s.client.limits());
    expect((await s.run('limits')).stdout.trim().split('\n')).toHaveLength(3);
    expect((await s.run('limit', 'charge', '--remove')).stdout).toBe('function "charge": no limit\n');
    expect((await s.run('limit', '--group', 'tenant-42', '--remove')).stdout).toBe('group "tenant-42": no limit\n');
    expect((await s.run('limit', 'mail', '--remove')).code).toBe(0);
    expect((await s.run('limits')).stdout).toBe('no limits set\n');
    await s.client.close();
  });

  it('shows a limit written by hand that is not one as ignored, on one line', async () => {
    const s = swarm();
    await redis.hset(`${s.prefix}new-task:limits`, 'f:charge', '{"rate":{"max":0}}');
    expect((await s.run('limits')).stdout).toBe('function "charge": not a limit, ignored by the claims: "{\\"rate\\":{\\"max\\":0}}" (set it again or --remove it)\n');
    expect((await s.run('limit', 'charge', '--remove')).stdout).toBe('function "charge": no limit\n');
    await s.client.close();
  });

  const mistakes: [string, string[], RegExp][] = [
    ['no target', ['limit', '--concurrency', '2'], /limit: name a function or --group <name>, not neither/],
    ['both targets', ['limit', 'f', '--group', 'g', '--concurrency', '2'], /not both/],
    ['no limit given', ['limit', 'f'], /give --concurrency n, --rate max\/ms \(or both\), or --remove/],
    ['--remove with a limit', ['limit', 'f', '--remove', '--concurrency', '2'], /--remove goes alone/],
    ['a concurrency of 0', ['limit', 'f', '--concurrency', '0'], /--concurrency must be an integer >= 1, got "0"/],
    ['a concurrency past any integer', ['limit', 'f', '--concurrency', '99999999999999999999'], /--concurrency must be an integer <= 2147483647, got "99999999999999999999"/],
    ['a concurrency past what a limit takes', ['limit', 'f', '--concurrency', '2147483648'], /--concurrency must be an integer <= 2147483647, got "2147483648"/],
    ['a rate without a window', ['limit', 'f', '--rate', '5'], /--rate must be max\/ms, e.g. 100\/1000/],
    ['a rate of 0', ['limit', 'f', '--rate', '0/1000'], /^task-swarm: --rate: max starts must be from 1 to 2147483647, got "0\/1000"$/m],
    ['a window of 0', ['limit', 'f', '--rate', '5/0'], /^task-swarm: --rate: the window must be from 1 to 2147483647 ms, got "5\/0"$/m],
    ['a window past what a limit takes', ['limit', 'f', '--rate', '5/99999m'], /--rate: the window must be from 1 to 2147483647 ms, got "5\/99999m"/],
    ['an empty group', ['limit', '--group', '', '--concurrency', '1'], /group/],
  ];
  for (const [what, argv, message] of mistakes) {
    it(`${what}: one line, exit 2, nothing written`, async () => {
      const s = swarm();
      oneLine(await s.run(...argv), 2, message);
      expect(await s.keys()).toEqual([]);
      await s.client.close();
    });
  }
});

describe('a task submitted to a Redis no worker has started on (on the ingress list, not routed to its function yet)', () => {
  it('status, wait and submit --wait say that no live worker will take it', async () => {
    // (a Redis of its own: once a worker has loaded the function library, a submit routes its task at once)
    const own = await startRedis();
    try {
      const env = { REDIS_URL: own.url };
      const id = (await runMain(['submit', 'resize', '{"frame":1}'], env)).stdout.trim();
      expect(await own.client().llen('new-task')).toBe(1);
      const status = await runMain(['status'], env);
      expect(status.stdout).toMatch(/^incoming 1 .* workers 0 /m);
      expect(status.stdout).toMatch(/^no live worker: the 1 incoming task waits until one that serves its function starts$/m);
      const waited = await runMain(['wait', id, '--timeout', '1000'], env);
      expect(waited.code).toBe(1);
      expect(waited.stderr).toMatch(new RegExp(`^task "${id}" waits, QUEUED: no live worker \\(it runs when one that serves its function starts\\)$`, 'm'));
      const submitted = await runMain(['submit', 'resize', '--wait', '--wait-timeout', '1000'], env);
      expect(submitted.stderr).toMatch(/waits, QUEUED: no live worker serves function "resize"/);
    } finally {
      await own.stop();
    }
  });
});

describe('task-swarm pause / resume / status, with a worker running', () => {
  it('pause holds new tasks QUEUED across the swarm; resume runs them; status says what waits and why', async () => {
    const s = swarm();
    // a long poll interval: only a wake can start the tasks promptly after resume
    const worker = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, fetchTaskInterval: 30_000, logger: quiet });
    worker.addTaskFunction('echo', (t) => t.data);
    await worker.start();
    try {
      expect((await s.run('pause')).stdout).toBe('paused the swarm: no new claims; running tasks go on\n');
      const id = (await s.run('submit', 'echo', '"hi"')).stdout.trim();
      const other = (await s.run('submit', 'nope', '1', '--id', 'n1')).stdout.trim();
      await new Promise((r) => setTimeout(r, 300));
      expect((await s.client.get(id))?.state).toBe('QUEUED');
      const status = (await s.run('status')).stdout;
      expect(status).toMatch(/PAUSED \(swarm\)/);
      expect(status).toMatch(/^nope\s+1\s+0\s+0\s+0\s+\(paused; no live worker serves it: its tasks wait\)$/m);

      // --wait on a task nobody serves says so, on one stderr line, then waits (here: times out)
      const waited = await s.run('submit', 'nope', '2', '--wait', '--wait-timeout', '300');
      expect(waited.code).toBe(1);
      expect(waited.stderr).toMatch(/waits, QUEUED: no live worker serves function "nope"/);

      const resumedAt = Date.now();
      expect((await s.run('resume')).stdout).toBe('resumed the swarm\n');
      expect(await s.client.wait(id, { timeout: 5_000 })).toMatchObject({ outcome: 'succeeded', result: 'hi' });
      expect(Date.now() - resumedAt, 'started well before the 30 s poll').toBeLessThan(3_000);
      expect((await s.run('resume')).stdout).toBe('the swarm was not paused\n');
      expect((await s.client.get(other))?.state).toBe('QUEUED');

      // one function paused: the others go on
      expect((await s.run('pause', 'echo')).code).toBe(0);
      const held = (await s.run('submit', 'echo', '"later"')).stdout.trim();
      await new Promise((r) => setTimeout(r, 300));
      expect((await s.client.get(held))?.state).toBe('QUEUED');
      expect((await s.run('status')).stdout).toMatch(/^echo\s+1\s+0\s+0\s+1\s+\(paused\)$/m);
      expect((await s.run('resume', 'echo')).stdout).toBe('resumed function "echo"\n');
      expect(await s.client.wait(held, { timeout: 5_000 })).toMatchObject({ outcome: 'succeeded', result: 'later' });
      await until(async () => !(await s.run('status')).stdout.includes('paused'), 'status shows nothing paused');
    } finally {
      await worker.stop();
      await s.client.close();
    }
  });
});
