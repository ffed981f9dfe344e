/**
 * The CLI's side of time (issue 8): submit --attempts/--backoff/--timeout/--delay/--run-at/--key,
 * --wait with --wait-timeout, and cancel, against a private Redis and a real worker. Each mistake
 * is one line on stderr with exit status 2, and writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, TimeoutError, Worker } from '../src/index.js';
import { CLIENT_PATIENCE_MS } from '../src/client.js';
import { waitFor } from '../src/cli/follow.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { cliSwarm, expectOneLine, runMain } from './helpers/cli.js';
import { startProxy } from './helpers/tcp-proxy.js';

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

const swarm = () => cliSwarm(server, redis, `time${++n}:`);

const oneLine = expectOneLine;

describe('task-swarm submit, time options', () => {
  it('--attempts and --backoff retry a failing task; --wait prints its history', async () => {
    const s = swarm();
    const w = new Worker({ redis: { ...server.options(), keyPrefix: s.prefix }, port: 0, logger: quiet });
    w.addTaskFunction('flaky', async (t) => {
      if (t.attempt < 3) throw new Error(`try ${t.attempt}`);
      return t.attempt;
    });
    await w.start();
    try {
      const r = await s.run('submit', 'flaky', '--attempts', '3', '--backoff', 'exponential:50:100', '--wait', '--wait-timeout', '10000');
      expect(r.code, r.stderr).toBe(0);
      const t = JSON.parse(r.stdout) as { outcome: string; result: number; history: { outcome: string }[] };
      expect(t).toMatchObject({ outcome: 'succeeded', result: 3 });
      expect(t.history.map((h) => h.outcome)).toEqual(['failed', 'failed', 'succeeded']);
      expect(r.stderr).toMatch(/retrying/);
    } finally {
      await w.stop();
      await s.client.close();
    }
  });

  it('--wait shows every event of the task, those published as soon as it is queued too', async () => {
    const s = swarm();
    const w = new Worker({ redis: { ...server.options(), keyPrefix: s.prefix }, port: 0, logger: quiet });
    // (it emits and fails at once: the first attempt's events come right after the submit)
    w.addTaskFunction('failsAtOnce', async (t) => {
      await t.emit('tried', { attempt: t.attempt });
      throw new Error(`try ${t.attempt}`);
    });
    await w.start();
    try {
      for (const id of [undefined, 'mine']) {
        const r = await s.run('submit', 'failsAtOnce', '--attempts', '3', '--backoff', 'exponential:200:1000', '--wait', '--wait-timeout', '15000', ...(id ? ['--id', id] : []));
        expect(r.code, r.stderr).toBe(1);
        const t = JSON.parse(r.stdout) as { id: string; outcome: string };
        expect(t.outcome).toBe('failed');
        if (id) expect(t.id).toBe(id);
        expect(r.stderr).toMatch(new RegExp(`^submitted ${t.id}; waiting for its end$`, 'm'));
        for (const attempt of [1, 2, 3]) expect(r.stderr).toMatch(new RegExp(`tried \\{"attempt":${attempt}\\}`));
        expect(r.stderr.match(/ retrying /g)).toHaveLength(2);
      }
      // a dedupe key another task holds: that task is the one waited for
      await s.client.submit('nobody', null, { id: 'holder', key: 'k' });
      const r = await s.run('submit', 'failsAtOnce', '--key', 'k', '--wait', '--wait-timeout', '500');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^key "k" is held by task "holder" \(queued, delayed or running\): nothing new submitted; waiting for its end$/m);
      expect(r.stderr).toMatch(/task "holder" did not end within 500 ms/);
    } finally {
      await w.stop();
      await s.client.close();
    }
  });

  it('--delay and --run-at queue it DELAYED; --key dedupes; cancel removes it', async () => {
    const s = swarm();
    try {
      const a = await s.run('submit', 'f', '{"n":1}', '--delay', '60000', '--key', 'k1');
      expect(a.code, a.stderr).toBe(0);
      const id = a.stdout.trim();
      expect(await s.client.get(id)).toMatchObject({ state: 'DELAYED', reason: 'delay', key: 'k1' });
      const again = await s.run('submit', 'f', '{"n":2}', '--key', 'k1');
      expect(again.stdout.trim()).toBe(id);
      const later = await s.run('submit', 'f', '--run-at', new Date(Date.now() + 3_600_000).toISOString());
      expect((await s.client.get(later.stdout.trim()))?.state).toBe('DELAYED');
      const c = await s.run('cancel', id);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout).toMatch(/cancelled/);
      expect(await s.client.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
      const twice = await s.run('cancel', id);
      expect(twice.code).toBe(1);
      expect(twice.stdout).toMatch(/already ended/);
      oneLine(await s.run('cancel', 'nope'), 1, /task "nope" not found|no task/i);
    } finally {
      await s.client.close();
    }
  });

  it('submit --wait on a task cancelled while it waits: exit 1, one line saying so (as its help says)', async () => {
    const s = swarm();
    try {
      const waiting = s.run('submit', 'f', '--id', 'cw1', '--delay', '60000', '--wait', '--wait-timeout', '10000');
      await until(async () => (await s.client.get('cw1'))?.state === 'DELAYED', 'cw1 queued');
      expect(await s.client.cancel('cw1')).toBe('cancelled');
      const r = await waiting;
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toMatchObject({ id: 'cw1', state: 'END', outcome: 'cancelled' });
      expect(r.stderr.trim().split('\n').at(-1)).toBe('task-swarm: task "cw1" ended cancelled');
      const help = (await s.run('submit', '--help')).stdout.replace(/\s+/g, ' ');
      expect(help).toContain('With --wait: exit status 0 when the task succeeded; 1 when it failed, was cancelled or stopped, or --wait-timeout passed.');
      const waitHelp = (await s.run('wait', '--help')).stdout.replace(/\s+/g, ' ');
      expect(waitHelp).toContain('1 when it failed, was cancelled or stopped, or the timeout passed.');
    } finally {
      await s.client.close();
    }
  });

  it('a wait timeout passes on time while Redis, frozen, answers neither the wait nor the hint\'s reads of the task', async () => {
    const own = await startRedis();
    const client = new Client({ redis: own.options() });
    let stderr = '';
    try {
      await client.submit('nobody', null, { id: 'frozen-wait' });
      own.freeze();
      const started = performance.now();
      const outcome = await waitFor({ stdout: { write: () => {} }, stderr: { write: (s: string) => (stderr += s) }, env: {} }, client, 'frozen-wait', 500).catch((e: unknown) => e);
      const took = performance.now() - started;
      expect(outcome).toBeInstanceOf(TimeoutError);
      // (the hint's read of the task fails only at the client's patience: the wait's end is not held for it)
      expect(took).toBeLessThan(CLIENT_PATIENCE_MS / 2);
      expect(stderr).toBe('');
    } finally {
      own.thaw();
      await client.close();
      await own.stop();
    }
  }, 40_000);

  it('a wait timeout that passes while the task is still being read ends the command with one error line, and leaves no unhandled rejection', async () => {
    const s = swarm();
    // every reply 40 ms late: a 5 ms wait is over before the first read of the task returns
    const proxy = await startProxy('127.0.0.1', server.port);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      await s.client.submit('nobody', null, { id: 'queued' });
      proxy.delay(40);
      const url = `redis://127.0.0.1:${proxy.port}`;
      for (const argv of [
        ['wait', 'queued', '--timeout', '5'],
        ['submit', 'nobody', '--wait', '--wait-timeout', '5'],
      ]) {
        const r = await runMain([...argv, '--key-prefix', s.prefix], { REDIS_URL: url });
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^task-swarm: task ".+" did not end within 5 ms$/);
        expect(r.stderr).not.toMatch(/^\s+at /m);
      }
      await new Promise((r) => setTimeout(r, 50)); // (a rejection is reported after its tick)
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await proxy.close();
      await s.client.close();
    }
  });

  it.each([
    [['submit', 'f', '--attempts', '0'], /--attempts must be an integer >= 1/],
    [['submit', 'f', '--backoff', 'linear:5'], /--backoff must be ms \(fixed\) or exponential:ms\[:max\]/],
    [['submit', 'f', '--backoff', 'exponential:5000:1000'], /--backoff "exponential:5000:1000": its max \(1000 ms\) is below its delay \(5000 ms\)/],
    [['submit', 'f', '--timeout', 'soon'], /--timeout must be an integer/],
    [['submit', 'f', '--delay=-5'], /--delay must be an integer >= 0/],
    [['submit', 'f', '--run-at', 'tomorrowish'], /--run-at must be an ISO 8601 time or epoch ms/],
    // (Date.parse reads these in its own ways, none of them ISO 8601: "-5" is May 2001, "5 May" the 5th of May 2001 in the local zone)
    [['submit', 'f', '--run-at=-5'], /--run-at must be an ISO 8601 time or epoch ms, got "-5"/],
    [['submit', 'f', '--run-at', '5 May'], /--run-at must be an ISO 8601 time or epoch ms, got "5 May"/],
    [['submit', 'f', '--run-at', '1.5'], /--run-at must be an ISO 8601 time or epoch ms, got "1\.5"/],
    [['submit', 'f', '--delay', '5', '--run-at', '0'], /give --delay or --run-at, not both/],
    [['submit', 'f', '--wait-timeout', '5'], /--wait-timeout only goes with --wait/],
    [['submit', 'f', '--key', ''], /key must be a non-empty string/],
  ])('%j is one line, exit 2, nothing written', async (argv, message) => {
    const s = swarm();
    try {
      oneLine(await s.run(...argv), 2, message);
      expect(await s.keys()).toEqual([]);
    } finally {
      await s.client.close();
    }
  });
});
