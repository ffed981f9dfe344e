/**
 * The dashboard's JSON API and its command, without a browser: task pages walk the indexes by
 * range (every id once, the same page cost deep into a large list), bad input is a 400 naming
 * it, status arrives by Server-Sent Events, and `task-swarm dashboard` prints its URL, keeps its
 * token out of every line it writes, takes actions only with it, and stops on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Client, ConfigError, createDashboard, Worker, type Dashboard, type TaskEvent } from '../src/index.js';
import { emitEvents } from '../src/effects/leases.js';
import { reapEnded } from '../src/effects/sweep.js';
import { formatEvent } from '../src/wire.js';
import { CLI } from './helpers/cli.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

async function dashboard(options: Parameters<typeof createDashboard>[0] = {}): Promise<{ d: Dashboard; url: string; prefix: string }> {
  const o = server.options();
  const d = createDashboard({ redis: o, ...options });
  cleanup.push(() => d.close());
  return { d, url: await d.listen(0), prefix: o.keyPrefix };
}

const json = async (url: string) => {
  const r = await fetch(url);
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};

describe('createDashboard', () => {
  it('refuses bad options with a ConfigError naming them', () => {
    expect(() => createDashboard({ port: 1 } as never)).toThrow(ConfigError);
    expect(() => createDashboard({ token: 'short' })).toThrow(/at least 8/);
    expect(() => createDashboard({ refreshInterval: 5 })).toThrow(/refreshInterval/);
    // (=== true was read: "true" as text left every action open)
    expect(() => createDashboard({ readOnly: 'true' as never })).toThrow(/^createDashboard: readOnly must be true or false, got "true"$/);
  });

  // (a port that is a text Node listened on as a socket file of that name, in the working
  // directory, and the address it then read threw in the listening callback: an uncaught
  // exception that ended the process; -1 was a raw RangeError)
  it('listen with a port that is no port: a ConfigError naming it, nothing listened on, the process lives', async () => {
    const d = createDashboard({ redis: server.options() });
    cleanup.push(() => d.close());
    for (const port of ['8080x', -1, 1.5, 65536, NaN]) {
      await expect(d.listen(port as never)).rejects.toMatchObject({ code: 'ERR_CONFIG', message: expect.stringMatching(/^dashboard: port must be an integer from 0 to 65535, got /) });
    }
    expect(existsSync('8080x')).toBe(false);
    expect(await d.listen(0)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('pages through 100 000 running tasks by range: totals, every id once, a deep page as a first one', async () => {
    const { url, prefix } = await dashboard();
    const N = 100_000;
    // the lease index as the runtime keeps it (id -> heartbeat), written in bulk; hashes for the pages read
    for (let i = 0; i < N; i += 10_000) {
      const args: (string | number)[] = [];
      for (let j = i; j < i + 10_000; j++) args.push(j, `t${String(j).padStart(6, '0')}`);
      await redis.zadd(`${prefix}tasks:leases`, ...args);
    }
    for (const j of [0, 1, 99_998, 99_999]) await redis.hset(`${prefix}task-t${String(j).padStart(6, '0')}`, { state: 'RUNNING', function: 'f', worker: 'w:1', attempt: '1' });
    const first = await json(`${url}api/tasks?list=running&limit=2`);
    expect(first.body).toMatchObject({ list: 'running', total: N, next: '2', rows: [{ id: 't000000', state: 'RUNNING', function: 'f', worker: 'w:1', attempt: 1, score: 0 }, { id: 't000001' }] });
    await redis.config('RESETSTAT');
    const last = await json(`${url}api/tasks?list=running&from=${N - 2}&limit=2`);
    expect(last.body).toMatchObject({ total: N, next: null, rows: [{ id: 't099998' }, { id: 't099999', state: 'RUNNING' }] });
    // a range read, a count and one HMGET per row, not a scan of the list: counted in commands
    // Redis ran (what they cost is the benchmarks' business, not a timed test's)
    const stats = (await redis.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_') && !l.startsWith('cmdstat_info') && !l.startsWith('cmdstat_config'));
    const calls = stats.reduce((sum, l) => sum + Number(/calls=(\d+)/.exec(l)?.[1] ?? 0), 0);
    expect(calls, stats.join('\n')).toBeLessThan(12);
    expect(stats.some((l) => /^cmdstat_(zscan|scan|keys|zrangebyscore)/.test(l)), stats.join('\n')).toBe(false);
    const walked = new Set<string>();
    let from: string | null = '90000';
    while (from !== null) {
      const page = (await json(`${url}api/tasks?list=running&from=${from}&limit=500`)).body as { rows: { id: string }[]; next: string | null };
      for (const r of page.rows) walked.add(r.id);
      from = page.next;
    }
    expect(walked.size).toBe(10_000);
  }, 60_000);

  it('walks the queued set by cursor, and the delayed and ended lists, each task once', async () => {
    const { url, prefix } = await dashboard();
    const client = new Client({ redis: server.options({ keyPrefix: prefix }) });
    cleanup.push(() => client.close());
    const ids = await client.submitMany(Array.from({ length: 300 }, (_, i) => ({ fn: 'f', data: i })));
    const delayed = await client.submitMany(Array.from({ length: 30 }, () => ({ fn: 'f', options: { delay: 60_000 } })));
    const seen: string[] = [];
    let from: string | null = '0';
    while (from !== null) {
      const page = (await json(`${url}api/tasks?list=queued&from=${from}&limit=50`)).body as { total: number; rows: { id: string; state: string }[]; next: string | null };
      expect(page.total).toBe(300);
      for (const r of page.rows) seen.push(r.id);
      from = page.next;
    }
    expect(new Set(seen)).toEqual(new Set(ids));
    const d = (await json(`${url}api/tasks?list=delayed&limit=500`)).body as { total: number; rows: { id: string; state: string }[] };
    expect(d.total).toBe(30);
    expect(new Set(d.rows.map((r) => r.id))).toEqual(new Set(delayed));
    expect(d.rows.every((r) => r.state === 'DELAYED')).toBe(true);
    await client.cancel(delayed[0]!);
    // cancelled while delayed: it ended without a worker, on the ended list
    const e = (await json(`${url}api/tasks?list=ended&limit=10`)).body as { rows: { id: string; state: string; outcome?: string }[] };
    expect(e.rows).toContainEqual(expect.objectContaining({ id: delayed[0], state: 'END', outcome: 'cancelled' }));
  });

  it('lists ended tasks newest first after the monitor cleaned them up, while their hashes are kept; with endRetention 0 none', async () => {
    const { url, prefix } = await dashboard();
    const keys = keysFor(prefix);
    const client = new Client({ redis: server.options({ keyPrefix: prefix }) });
    cleanup.push(() => client.close());
    const first = await client.submit('f', 1, { delay: 60_000 });
    const second = await client.submit('f', 2, { delay: 60_000 });
    await client.cancel(first);
    await client.cancel(second);
    const listed = async () => ((await json(`${url}api/tasks?list=ended&limit=10`)).body as { total: number; rows: { id: string; state: string }[] });
    expect(await listed()).toMatchObject({ total: 2 });
    // the monitor's cleanup, with the hashes kept an hour: still listed, newest first
    expect(await reapEnded(redis, keys, 3_600_000, 100)).toEqual({ reaped: 2, left: 0 });
    expect(await redis.llen(keys.ended)).toBe(0);
    expect(await listed()).toMatchObject({ total: 2, rows: [{ id: second, state: 'END' }, { id: first, state: 'END' }] });
    // ended after them and not cleaned up yet: listed first
    const third = await client.submit('f', 3, { delay: 60_000 });
    await client.cancel(third);
    expect((await listed()).rows.map((r) => r.id)).toEqual([third, second, first]);
    // paged across the two: each once
    const a = (await json(`${url}api/tasks?list=ended&limit=2`)).body as { rows: { id: string }[]; next: string };
    const b = (await json(`${url}api/tasks?list=ended&limit=2&from=${a.next}`)).body as { rows: { id: string }[]; next: string | null };
    expect([...a.rows, ...b.rows].map((r) => r.id)).toEqual([third, second, first]);
    expect(b.next).toBeNull();
    // cleaned up with endRetention 0: the hash deleted, nothing listed for it
    expect(await reapEnded(redis, keys, 0, 100)).toEqual({ reaped: 1, left: 0 });
    expect((await listed()).rows.map((r) => r.id)).not.toContain(third);
    expect(await redis.exists(keys.task(third))).toBe(0);
  });

  it('answers bad input with a 400 naming it, an unknown task with a 404, an unknown route with a 404', async () => {
    const { url } = await dashboard();
    expect(await json(`${url}api/tasks?list=everything`)).toMatchObject({ status: 400, body: { code: 'ERR_INVALID_TASK', error: expect.stringMatching(/list must be one of running, queued, delayed, ended/) } });
    expect(await json(`${url}api/tasks?list=running&limit=100000`)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/limit must be an integer from 1 to 500/) } });
    expect(await json(`${url}api/tasks?list=queued&from=abc`)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/cursor/) } });
    expect(await json(`${url}api/task/nope`)).toMatchObject({ status: 404, body: { code: 'ERR_TASK_NOT_FOUND' } });
    // (a 500 said "URI malformed", and a far offset "Cannot read properties of undefined": neither named the input)
    expect(await json(`${url}api/task/%ZZ`)).toMatchObject({ status: 400, body: { error: 'the task id in the path is not percent-encoded UTF-8: "%ZZ"' } });
    expect(await json(`${url}api/task/%ED%A0%80/stream`)).toMatchObject({ status: 400, body: { error: 'the task id in the path is not percent-encoded UTF-8: "%ED%A0%80"' } });
    expect(await json(`${url}api/tasks?list=running&from=99999999999999999999999`)).toMatchObject({ status: 400, body: { error: expect.stringMatching(/^from must be an offset/) } });
    expect((await fetch(`${url}api/nothing`)).status).toBe(404);
    expect((await fetch(`${url}api/tasks`, { method: 'DELETE' })).status).toBe(405);
  });

  it('answers a body over 64 KB with a 413 saying so, not a connection cut before any answer', async () => {
    const { url } = await dashboard({ token: 'a-token-of-length' });
    const headers = { 'x-task-swarm': '1', authorization: 'Bearer a-token-of-length', 'content-type': 'application/json' };
    for (const size of [70_000, 2_000_000]) {
      const r = await fetch(`${url}api/task/x/control`, { method: 'POST', headers, body: JSON.stringify({ message: { event_name: 'e', event: 'x'.repeat(size) } }) });
      expect({ status: r.status, body: await r.json() }).toEqual({ status: 413, body: { error: 'the body is over 65536 bytes' } });
    }
    // and the next request is answered as ever
    expect(await json(`${url}api/task/nope`)).toMatchObject({ status: 404 });
  });

  it('on loopback, answers only loopback names: a name pointed at it by another site (DNS rebinding) gets a 403', async () => {
    const { url } = await dashboard();
    const port = new URL(url).port;
    const get = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const r = request({ host: '127.0.0.1', port, path: '/api/overview', headers: { host } }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        });
        r.on('error', reject);
        r.end();
      });
    expect(await get(`evil.example:${port}`)).toBe(403);
    expect(await get(`localhost:${port}`)).toBe(200);
    expect(await get(`127.0.0.1:${port}`)).toBe(200);
    // mounted with a list of its own
    const o = server.options();
    const d = createDashboard({ redis: o, allowedHosts: ['ops.example'] });
    cleanup.push(() => d.close());
    const p2 = new URL(await d.listen(0)).port;
    const get2 = (host: string) =>
      new Promise<number>((resolve) => request({ host: '127.0.0.1', port: p2, path: '/api/machines', headers: { host } }, (res) => (res.resume(), resolve(res.statusCode!))).end());
    expect(await get2(`ops.example:${p2}`)).toBe(200);
    expect(await get2(`localhost:${p2}`)).toBe(403);
    expect(() => createDashboard({ allowedHosts: 'x' as never })).toThrow(ConfigError);
  });

  it('pushes status by Server-Sent Events, and draws the machines from their definitions', async () => {
    const { url } = await dashboard({ refreshInterval: 100 });
    const machines = (await json(`${url}api/machines`)).body as Record<string, { children: { key: string }[] }>;
    expect(machines.worker!.children.map((c) => c.key)).toEqual(expect.arrayContaining(['starting', 'connected', 'partitioned', 'stopped']));
    expect(machines.task!.children.map((c) => c.key)).toEqual(expect.arrayContaining(['RUNNING', 'END']));
    const ac = new AbortController();
    const r = await fetch(`${url}api/stream`, { signal: ac.signal });
    expect(r.headers.get('content-type')).toBe('text/event-stream');
    const reader = r.body!.getReader();
    let text = '';
    while (!/event: status\ndata: .*\n\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const data = JSON.parse(/event: status\ndata: (.*)\n\n/.exec(text)![1]!) as { stats: { workers: number }; workers: unknown[]; canAct: boolean };
    expect(data).toMatchObject({ stats: { workers: 0 }, workers: [], canAct: false });
  });
});

/** a gate a task function waits at, opened by the test */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** a task's Server-Sent Events from the dashboard, as they arrive; `close` ends the request */
function taskStream(url: string, id: string): { events: TaskEvent[]; close: () => void } {
  const ac = new AbortController();
  const events: TaskEvent[] = [];
  void (async () => {
    const r = await fetch(`${url}api/task/${encodeURIComponent(id)}/stream`, { signal: ac.signal });
    const reader = r.body!.getReader();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const m = /^event: task\ndata: (.*)$/s.exec(text.slice(0, end));
        if (m) events.push(JSON.parse(m[1]!) as TaskEvent);
        text = text.slice(end + 2);
      }
    }
  })().catch(() => {});
  cleanup.push(async () => ac.abort());
  return { events, close: () => ac.abort() };
}

describe('a task followed in the dashboard', () => {
  it("keeps a task's last event in its hash: Client.get and the task pages show the newest, a fenced emit changes nothing, the end replaces it", async () => {
    const { url, prefix } = await dashboard();
    const o = server.options({ keyPrefix: prefix });
    const first = gate();
    const second = gate();
    const w = new Worker({ port: 0, redis: o });
    cleanup.push(() => w.stop());
    w.addTaskFunction('steps', async (task) => {
      for (let n = 1; n <= 3; n++) task.emit('step', { n });
      await first.wait;
      // over LAST_EVENT_MAX: kept as its name and time only
      task.emit('blob', 'x'.repeat(5000));
      await second.wait;
      return 'done';
    });
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('steps', null);
    const seen = await until(async () => {
      const t = await c.get(id);
      return t?.lastEvent?.event === 'step' && (t.lastEvent.data as { n: number }).n === 3 ? t : undefined;
    }, 'the third step as its last event');
    expect(seen.lastEvent).toEqual({ event: 'step', data: { n: 3 }, at: expect.any(Number) });
    const page = (await json(`${url}api/tasks?list=running`)).body as { rows: { id: string; lastEvent?: unknown }[] };
    expect(page.rows.find((r) => r.id === id)?.lastEvent).toEqual(seen.lastEvent);

    // a copy of the task whose lease is not the task's (an old claim's) speaks into nothing
    const keys = keysFor(prefix);
    const lease = (await redis.hget(keys.task(id), 'lease'))!;
    const stale = { id, lease: `${lease}-old`, channel: keys.events(id), message: formatEvent('forged', { n: 99 }), last: '=', seq: 1 };
    expect(await emitEvents(redis, keys, [stale])).toEqual(['fenced']);
    expect((await c.get(id))?.lastEvent).toEqual(seen.lastEvent);

    first.open();
    const blob = await until(async () => {
      const t = await c.get(id);
      return t?.lastEvent?.event === 'blob' ? t.lastEvent : undefined;
    }, 'the large event as its last');
    expect(blob).toEqual({ event: 'blob', at: expect.any(Number) });
    expect(await redis.hstrlen(keys.task(id), 'last_event')).toBeLessThan(100);

    second.open();
    const ended = await c.wait(id, { timeout: 10_000 });
    expect(ended.lastEvent).toEqual({ event: 'end', at: expect.any(Number) });
    expect(ended.lastEvent!.at).toBeGreaterThanOrEqual(blob.at);
    const endedPage = (await json(`${url}api/tasks?list=ended`)).body as { rows: { id: string; lastEvent?: unknown }[] };
    expect(endedPage.rows.find((r) => r.id === id)?.lastEvent).toEqual(ended.lastEvent);
    // ended: even the task's own lease is refused now
    expect(await emitEvents(redis, keys, [{ ...stale, lease }])).toEqual(['fenced']);
    expect((await c.get(id))?.lastEvent).toEqual(ended.lastEvent);
  }, 30_000);

  it("streams a running task's machine state, asked of its worker only while the stream is open: working, then stopping after a stop", async () => {
    const { url, prefix } = await dashboard();
    const o = server.options({ keyPrefix: prefix });
    const w = new Worker({ port: 0, redis: o, abortTimeout: 5000 });
    cleanup.push(() => w.stop());
    // takes 1 s to give in once stopped: long enough to be seen stopping
    w.addTaskFunction('slow-stop', async (task) => {
      await new Promise<void>((r) => task.signal.addEventListener('abort', () => r()));
      await new Promise((r) => setTimeout(r, 1000));
      return 'gave in';
    });
    await w.start();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // a task nobody watches: its subscriber hears no machine state
    const unwatched = await c.submit('slow-stop', null);
    const plain: TaskEvent[] = [];
    const offPlain = c.subscribe(unwatched, (e) => plain.push(e));
    cleanup.push(async () => offPlain());
    const id = await c.submit('slow-stop', null);
    await until(async () => (await c.get(id))?.state === 'RUNNING', `${id} to run`);
    const stream = taskStream(url, id);
    const states = () => stream.events.filter((e) => e.event === 'machine-state').map((e) => e.data as { id: string; value: unknown });
    await until(() => states().length > 0, 'a machine state on the stream');
    expect(states()[0]).toEqual({ id, value: { RUNNING: 'working' } });
    await c.control(id, 'stop');
    await until(() => states().some((s) => JSON.stringify(s.value) === '{"RUNNING":"stopping"}'), 'the stopping state');
    await until(() => stream.events.some((e) => e.event === 'end'), 'the end');
    // in the machine's order
    const values = states().map((s) => JSON.stringify(s.value));
    expect(values.filter((v, i) => v !== values[i - 1]).slice(0, 2)).toEqual(['{"RUNNING":"working"}', '{"RUNNING":"stopping"}']);
    // machine states are not the task's events: its last event is the end
    expect((await c.get(id))?.lastEvent?.event).toBe('end');
    expect((await c.get(id))?.outcome).toBe('stopped');
    await c.control(unwatched, 'stop');
    await c.wait(unwatched, { timeout: 10_000 });
    expect(plain.some((e) => e.event === 'machine-state')).toBe(false);
    expect(plain.some((e) => e.event === 'end')).toBe(true);
  }, 30_000);
});

/** `task-swarm dashboard` as a process: its output lines, and a way to stop it */
function runDashboard(args: string[], env: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'dashboard', '--port', '0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  cleanup.push(async () => {
    proc.kill('SIGKILL');
    await exited;
  });
  const url = (async () => {
    for (let i = 0; i < 300 && !/dashboard at (\S+)/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    const m = /dashboard at (\S+)/.exec(out);
    if (!m) throw new Error(`no URL printed; stdout ${out}, stderr ${err}`);
    return m[1]!;
  })();
  return { url, exited, stop: () => proc.kill('SIGTERM'), output: () => out + err };
}

describe('task-swarm dashboard', () => {
  it('prints its URL on 127.0.0.1, takes actions only with the token from --token-file, never prints it, stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'task-swarm-dashboard-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const secret = 'file-token-5f3a9c1e77';
    writeFileSync(join(dir, 'token'), `${secret}\n`);
    const run = runDashboard(['--token-file', join(dir, 'token')], { REDIS_URL: server.url });
    const url = await run.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const post = (token: string) => fetch(`${url}api/dead/retry`, { method: 'POST', headers: { 'x-task-swarm': '1', authorization: `Bearer ${token}` }, body: '{"key":"none"}' });
    expect((await post('wrong-token-123')).status).toBe(401);
    // the token passes: no such dead letter
    // (with the reason the page shows, as the CLI's retry-dead and purge-dead say it, not a bare 404)
    expect(await (await post(secret)).json()).toEqual({ done: false, error: 'no dead letter with key none (retried, purged or dropped already)' });
    run.stop();
    expect(await run.exited).toBe(0);
    expect(run.output()).not.toContain(secret);
  }, 30_000);

  it('without a token, or --read-only, says so and refuses every action', async () => {
    const plain = runDashboard([], { REDIS_URL: server.url });
    const token = 'env-token-0a1b2c3d4e';
    const ro = runDashboard(['--read-only'], { REDIS_URL: server.url, TASK_SWARM_DASHBOARD_TOKEN: token });
    for (const [run, why, bearer] of [
      [plain, /no token is set/, 'anything-at-all'],
      [ro, /read-only/, token],
    ] as const) {
      const r = await fetch(`${await run.url}api/dead/purge`, { method: 'POST', headers: { 'x-task-swarm': '1', authorization: `Bearer ${bearer}` }, body: '{"key":"k"}' });
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: string }).error).toMatch(why);
    }
    expect(plain.output()).toMatch(/warning: no token \(env TASK_SWARM_DASHBOARD_TOKEN or --token-file\): the page is read-only/);
    expect(ro.output()).toMatch(/\(read-only\)/);
    expect(ro.output()).not.toContain(token);
  }, 30_000);
});

describe("a task's stream", () => {
  // (one stream in twenty missed its end under load: subscribes sent during the subscriber
  // connection's handshake were lost, test/client-subscribe.test.ts)
  it('says `: open` only once its subscription is live: an end published right after arrives', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    const d = createDashboard({ redis: o, token: 'stream-token-123' });
    const at = await d.listen(0);
    try {
      // many streams at once, each followed by the end at once: none may miss it
      const ids = Array.from({ length: 20 }, (_, i) => `open-${i}`);
      for (const id of ids) await c.submit('nobody', null, { id });
      await Promise.all(
        ids.map(async (id) => {
          const ac = new AbortController();
          const reader = (await fetch(`${at}api/task/${id}/stream`, { signal: ac.signal })).body!.getReader();
          let text = '';
          while (!text.includes(': open')) text += new TextDecoder().decode((await reader.read()).value);
          expect(await c.cancel(id)).toBe('cancelled');
          const deadline = Date.now() + 5000;
          while (!/event: task\ndata: \{"event":"end"/.test(text)) {
            const chunk = await Promise.race([reader.read(), new Promise<undefined>((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
            if (!chunk) throw new Error(`${id}: no end within 5 s after ": open"; got:\n${text}`);
            text += new TextDecoder().decode(chunk.value);
          }
          ac.abort();
        }),
      );
    } finally {
      await d.close();
      await c.close();
    }
  });
});
