/**
 * What a newcomer met trying the README's commands and the library's calls for the first time:
 * each case is a line that told them the wrong thing to do, or too little to see their mistake.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Monitor, Worker } from '../src/index.js';
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

const swarm = () => cliSwarm(server, redis, `newcomer${++n}:`);

describe('wait on a task of a paused function', () => {
  it('names the resume that lifts that pause: a bare `resume` lifts only the swarm-wide one', async () => {
    const s = swarm();
    const worker = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
    worker.addTaskFunction('echo', (t) => t.data);
    worker.addTaskFunction('my fn', (t) => t.data);
    await worker.start();
    try {
      expect((await s.run('pause', 'echo')).code).toBe(0);
      const waited = await s.run('submit', 'echo', '1', '--wait', '--wait-timeout', '500');
      expect(waited.code).toBe(1);
      expect(waited.stderr).toMatch(/waits, QUEUED: function "echo" is paused \(`task-swarm resume echo`\)$/m);
      // the hint, run as told, lifts the pause
      expect((await s.run('resume', 'echo')).stdout).toBe('resumed function "echo"\n');

      expect((await s.run('pause', 'my fn')).code).toBe(0);
      expect((await s.run('pause')).code).toBe(0);
      const both = await s.run('submit', 'my fn', '2', '--wait', '--wait-timeout', '500');
      expect(both.stderr).toMatch(/: the swarm and function "my fn" are paused \(`task-swarm resume` and `task-swarm resume 'my fn'`\)$/m);
    } finally {
      await worker.stop();
      await s.client.close();
    }
  });
});

describe('pause and limit of a function no worker serves and no task has', () => {
  it('a misspelt name is done as asked, with one warning line naming the functions the swarm knows', async () => {
    const s = swarm();
    const worker = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
    worker.addTaskFunction('resize', (t) => t.data);
    await worker.start();
    try {
      const warning = /^task-swarm: warning: no live worker serves function "rezise" and no task of it waits or runs: is the name right\? \(known: "resize"\)\n$/;
      const paused = await s.run('pause', 'rezise');
      expect(paused).toMatchObject({ code: 0, stdout: 'paused function "rezise": no new claims; running tasks go on\n' });
      expect(paused.stderr).toMatch(warning);
      const limited = await s.run('limit', 'rezise', '--concurrency', '2');
      expect(limited).toMatchObject({ code: 0, stdout: 'function "rezise": concurrency 2 (running 0)\n' });
      expect(limited.stderr).toMatch(warning);

      // the name the swarm serves, or a removal, says nothing more
      expect(await s.run('pause', 'resize')).toMatchObject({ code: 0, stderr: '' });
      expect(await s.run('limit', 'resize', '--concurrency', '2')).toMatchObject({ code: 0, stderr: '' });
      expect(await s.run('limit', 'rezise', '--remove')).toMatchObject({ code: 0, stderr: '' });
    } finally {
      await worker.stop();
      await s.client.close();
    }
  });
});

describe('submit of a function no live worker serves, while workers run', () => {
  it('prints the id, and one warning line naming the functions the workers serve; the task is queued all the same', async () => {
    const s = swarm();
    const worker = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
    worker.addTaskFunction('resize', (t) => t.data);
    worker.addTaskFunction('report', (t) => t.data);
    await worker.start();
    try {
      const warning = 'task-swarm: warning: submit: no live worker serves function "resise": the task waits until one that does starts; is the name right? (served: "report", "resize")\n';
      const typo = await s.run('submit', 'resise', '{"w":1}');
      expect(typo).toMatchObject({ code: 0, stderr: warning });
      expect(typo.stdout).toMatch(/^\S+\n$/);
      expect(await s.client.get(typo.stdout.trim())).toMatchObject({ state: 'QUEUED', function: 'resise' });
      const keyed = await s.run('submit', 'resise', '{"w":2}', '--key', 'k1');
      expect(keyed).toMatchObject({ code: 0, stderr: warning });

      // the name a worker serves says nothing
      const served = await s.run('submit', 'resize', '{"w":1}');
      expect(served).toMatchObject({ code: 0, stderr: '' });
    } finally {
      await worker.stop();
      await s.client.close();
    }
  });

  it('no worker at all: nothing said (a producer may start first)', async () => {
    const s = swarm();
    try {
      expect(await s.run('submit', 'resise', '{"w":1}')).toMatchObject({ code: 0, stderr: '' });
    } finally {
      await s.client.close();
    }
  });
});

describe('submit --key that another task holds', () => {
  it('prints that task\'s id, and says on stderr that nothing new was submitted', async () => {
    const s = swarm();
    try {
      const first = await s.run('submit', 'report', '{"day":1}', '--key', 'daily', '--delay', '60000');
      expect(first).toMatchObject({ code: 0, stderr: '' });
      const holder = first.stdout.trim();
      const again = await s.run('submit', 'report', '{"day":2}', '--key', 'daily');
      expect(again).toMatchObject({ code: 0, stdout: `${holder}\n` });
      expect(again.stderr).toBe(`task-swarm: warning: key "daily" is held by task "${holder}" (queued, delayed or running): nothing new submitted; its id follows\n`);
      expect((await s.client.get(holder))?.data).toEqual({ day: 1 });
      // with --id too: the id printed is the holder's, not the one given
      const given = await s.run('submit', 'report', '{"day":3}', '--key', 'daily', '--id', 'mine');
      expect(given).toMatchObject({ code: 0, stdout: `${holder}\n` });
      expect(given.stderr).toMatch(/nothing new submitted/);
      expect(await s.client.get('mine')).toBeNull();
      // a key nobody holds: a task of its own, nothing said
      const fresh = await s.run('submit', 'report', '{"day":4}', '--key', 'weekly', '--group', 'g1');
      expect(fresh).toMatchObject({ code: 0, stderr: '' });
      expect((await s.client.get(fresh.stdout.trim()))).toMatchObject({ key: 'weekly', group: 'g1', data: { day: 4 } });
    } finally {
      await s.client.close();
    }
  });
});

describe('submit --id of a task submitted before, the very same', () => {
  it('prints the id and says on stderr that nothing new was submitted, and how that task stands', async () => {
    const s = swarm();
    const worker = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
    worker.addTaskFunction('report', (t) => t.data);
    await worker.start();
    try {
      const first = await s.run('submit', 'report', '{"day":1}', '--id', 'nightly-1', '--wait');
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/^submitted nightly-1; waiting for its end$/m);
      const again = await s.run('submit', 'report', '{"day":1}', '--id', 'nightly-1');
      expect(again).toMatchObject({
        code: 0,
        stdout: 'nightly-1\n',
        stderr: 'task-swarm: warning: task "nightly-1" was submitted before, the very same task (ended succeeded): nothing new submitted; its id follows\n',
      });
      const waited = await s.run('submit', 'report', '{"day":1}', '--id', 'nightly-1', '--wait');
      expect(waited.code).toBe(0);
      expect(waited.stderr).toMatch(/^task "nightly-1" was submitted before, the very same task \(ended succeeded\): nothing new submitted; waiting for its end$/m);
      // an id of its own: nothing said
      expect(await s.run('submit', 'report', '{"day":2}', '--id', 'nightly-2')).toMatchObject({ code: 0, stdout: 'nightly-2\n', stderr: '' });
    } finally {
      await worker.stop();
      await s.client.close();
    }
  });

  it('whose ended hash went (its retention ran out) between the read and the submit: queued anew, and not said to be nothing new', async () => {
    const s = swarm();
    try {
      const worker = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
      worker.addTaskFunction('report', (t) => t.data);
      await worker.start();
      expect((await s.run('submit', 'report', '{"day":1}', '--id', 'nightly-3', '--wait')).code).toBe(0);
      await worker.stop();
      // the command's read sees the task ended; its hash is gone (as when its endRetention runs
      // out) right after that read, before the submit
      const get = Client.prototype.get;
      let reads = 0;
      Client.prototype.get = async function (this: Client, id: string) {
        const t = await get.call(this, id);
        if (id === 'nightly-3' && ++reads === 1) await redis.del(`${s.prefix}task-nightly-3`);
        return t;
      };
      let again;
      try {
        again = await s.run('submit', 'report', '{"day":1}', '--id', 'nightly-3');
      } finally {
        Client.prototype.get = get;
      }
      expect(again).toMatchObject({ code: 0, stdout: 'nightly-3\n' });
      expect(again.stderr).not.toMatch(/nothing new submitted/);
      expect(await s.client.get('nightly-3')).toMatchObject({ state: 'QUEUED' });
    } finally {
      await s.client.close();
    }
  });
});

describe('a monitor stopped', () => {
  it('is silent at once, its last sweep kept: `schedules` then says no monitor runs to fire an overdue tick', async () => {
    const s = swarm();
    const monitor = new Monitor({ redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
    await monitor.start();
    const [active] = await until(async () => {
      const list = await s.client.monitors();
      return list.some((m) => m.health === 'active') ? list : undefined;
    }, 'the monitor listed active');
    await monitor.stop();
    try {
      const [stopped, ...others] = await s.client.monitors();
      expect(others).toEqual([]);
      expect(stopped).toEqual({ name: active!.name, health: 'silent', lastSweep: expect.any(Number) });
      expect(stopped!.lastSweep).toBeGreaterThanOrEqual(active!.lastSweep);
      expect((await s.run('schedule', 'poll', 'poll', '--every', '1000')).code).toBe(0);
      // (a tick overdue by more than 5 s is the one `schedules` explains)
      const line = await until(async () => {
        const out = (await s.run('schedules')).stdout;
        return /overdue by/.test(out) ? out : undefined;
      }, 'the tick overdue', 15_000, 250);
      expect(line).toMatch(/overdue by \d+ s: no monitor runs to fire it \(the last swept at [^)]+\); schedules fire only while one does\)/);
    } finally {
      await s.client.close();
    }
  });
});

describe('submit with data that is not JSON', () => {
  it.each([
    ['a bare word, meant as a string', 'hello', /: hello; a string goes in JSON's double quotes: '"hello"'$/],
    ['words, meant as a string', 'hello world', /: hello world; a string goes in JSON's double quotes: '"hello world"'$/],
    ["JavaScript's single quotes", "{'a':1}", /: \{'a':1\}; JSON quotes with ", not ' \(e\.g\. '\{"a":"b"\}'\)$/],
  ])('%s: one line that shows how to write it, exit 2, nothing written', async (_what, data, message) => {
    const s = swarm();
    const r = await s.run('submit', 'echo', data);
    expectOneLine(r, 2, /^task-swarm: json-data is not valid JSON \(/);
    expect(r.stderr.trimEnd()).toMatch(message);
    expect(await s.keys()).toEqual([]);
    await s.client.close();
  });

  it('JSON that is broken otherwise gets no hint', async () => {
    const s = swarm();
    const r = await s.run('submit', 'echo', '{"a":1} extra');
    expectOneLine(r, 2, /^task-swarm: json-data is not valid JSON \(.*\): \{"a":1\} extra\n$/);
    await s.client.close();
  });
});

describe('a worker or a monitor on a port in use', () => {
  let dir: string;
  let taken: ReturnType<typeof createServer>;
  let port: number;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'newcomer-'));
    writeFileSync(join(dir, 'tasks.mjs'), 'export function echo(task) { return task.data; }\n');
    taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    port = (taken.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise((r) => taken.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['a second worker on the same peer port', () => ['worker', '--functions', join(dir, 'tasks.mjs'), '--host', '127.0.0.1', '--port', String(port)], 'peer pings', '--port'],
    ['a worker on a metrics port in use', () => ['worker', '--functions', join(dir, 'tasks.mjs'), '--port', '0', '--metrics-port', String(port)], 'metrics', '--metrics-port'],
    ['a monitor on a metrics port in use', () => ['monitor', '--metrics-port', String(port)], 'metrics', '--metrics-port'],
  ])('%s: the one line names the flag that picks another', async (_what, argv, what, flag) => {
    const s = swarm();
    const r = await s.run(...argv(), '--log', 'silent');
    expectOneLine(r, 1, new RegExp(`^task-swarm: cannot listen on 127\\.0\\.0\\.1:${port} for ${what}: port already in use \\(pick another with ${flag}, or ${flag} 0 for any free one\\)\n$`));
    await s.client.close();
  });
});

describe('rediss:// to a Redis without TLS', () => {
  it('the one line says the TLS handshake may be what goes unanswered, not only that Redis does not answer', async () => {
    const url = server.url.replace(/^redis:/, 'rediss:');
    const r = await runMain(['status'], { REDIS_URL: url });
    expectOneLine(r, 1, /^task-swarm: cannot reach Redis at rediss:\/\/.*: no answer within 3 s \(TLS was asked for: a server without TLS on that port leaves the handshake unanswered; if it has none, write redis:\/\/\)\n$/);
  });
});

describe('status of a swarm without a monitor', () => {
  it('says under the counts that no monitor runs, and stops saying it once one does', async () => {
    const s = swarm();
    const options = { ...server.options(), keyPrefix: s.prefix };
    const worker = new Worker({ port: 0, redis: options, logger: quiet });
    worker.addTaskFunction('echo', (t) => t.data);
    await worker.start();
    const note = "no monitor runs: a dead worker's tasks are not taken back, and ended ones stay claimed until one cleans them up (start `task-swarm monitor`)\n";
    try {
      const alone = await s.run('status');
      expect(alone).toMatchObject({ code: 0, stderr: '' });
      expect(alone.stdout.endsWith(note)).toBe(true);
      expect(JSON.parse((await s.run('status', '--json')).stdout)).toMatchObject({ workers: 1 });
      const monitor = new Monitor({ redis: options, logger: quiet });
      await monitor.start();
      try {
        await until(async () => (await s.client.monitors()).some((m) => m.health === 'active'), 'the monitor listed active');
        const watched = await s.run('status');
        expect(watched.code).toBe(0);
        expect(watched.stdout).not.toContain('no monitor runs');
      } finally {
        await monitor.stop();
      }
    } finally {
      await worker.stop();
      await s.client.close();
    }
    // an empty swarm: nothing to say it of
    const empty = swarm();
    expect((await empty.run('status')).stdout).toBe('incoming 0  claimed 0  workers 0  dead 0  ended (manual_end) 0\n');
    await empty.client.close();
  });
});

describe('limit --rate with the window in hours, or a unit alone', () => {
  it.each([
    ['100/1h', 3_600_000],
    ['100/s', 1000],
    ['100/m', 60_000],
    ['100/h', 3_600_000],
  ])('%s is taken, as "per second" and "per hour" are said', async (rate, per) => {
    const s = swarm();
    const r = await s.run('limit', 'mail', '--rate', rate);
    expect(r).toMatchObject({ code: 0, stdout: `function "mail": rate 100 per ${per} ms (running 0)\n` });
    await s.client.close();
  });

  it('a window it cannot read names every unit it takes', async () => {
    const s = swarm();
    expectOneLine(await s.run('limit', 'mail', '--rate', '100/1d'), 2, /^task-swarm: --rate must be max\/ms, e.g. 100\/1000 \(or with a unit: 100\/1s, 100\/1m, 100\/1h\), got "100\/1d"\n$/);
    await s.client.close();
  });
});

describe('a flag in ms given a time with a unit', () => {
  it.each([
    [['submit', 'report', '--delay', '5m'], '--delay', '5m', 300_000],
    [['submit', 'report', '--timeout', '30s'], '--timeout', '30s', 30_000],
    [['schedule', 'poll', 'poll', '--every', '1h'], '--every', '1h', 3_600_000],
    [['monitor', '--task-timeout', '1.5s'], '--task-timeout', '1.5s', 1500],
  ])('%j: the one line says it is ms, and what the time is in ms', async (argv, flag, raw, ms) => {
    const s = swarm();
    expectOneLine(await s.run(...argv), 2, new RegExp(`^task-swarm: ${flag} must be an integer, got "${raw.replace('.', '\\.')}": a number of ms \\(${raw.replace('.', '\\.')} is ${ms}\\)\n$`));
    expect(await s.keys()).toEqual([]);
    await s.client.close();
  });

  it('a flag that is no time is told nothing of ms', async () => {
    const s = swarm();
    expectOneLine(await s.run('submit', 'report', '--priority', '5s'), 2, /^task-swarm: --priority must be an integer, got "5s"\n$/);
    await s.client.close();
  });
});

describe('task-swarm help', () => {
  it('`help` and `help <command>` print what --help prints, exit 0', async () => {
    expect(await runMain(['help'])).toEqual(await runMain(['--help']));
    expect((await runMain(['help'])).stdout).toMatch(/^Usage: task-swarm <command>/);
    const submit = await runMain(['help', 'submit']);
    expect(submit).toEqual(await runMain(['submit', '--help']));
    expect(submit).toMatchObject({ code: 0, stderr: '' });
    expect(submit.stdout).toMatch(/^Usage: task-swarm submit \[options\] <function> \[json-data\]/);
    // (help of help: what help prints; it was 'unknown command "help"', exit 2)
    expect(await runMain(['help', 'help'])).toEqual(await runMain(['--help']));
  });

  it('a name that is no command, or two names: one line, exit 2', async () => {
    expectOneLine(await runMain(['help', 'sumbit']), 2, /^task-swarm: unknown command "sumbit" \(one of worker, /);
    expectOneLine(await runMain(['help', 'submit', 'wait']), 2, /^task-swarm: help: give one command's name \(usage: task-swarm help \[command\]\)\n$/);
  });
});

describe('a task pushed by hand and parked as a dead letter', () => {
  it('get, wait, cancel and control name the dead letter, not "never submitted"; events says so as it waits', async () => {
    const s = swarm();
    const worker = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: s.prefix }, logger: quiet });
    worker.addTaskFunction('echo', (t) => t.data);
    await worker.start();
    try {
      // as the README pushes one, with an option out of range
      await redis.lpush(`${s.prefix}new-task`, JSON.stringify({ id: 'hand1', function: 'echo', data: '{}', attempts: 0 }));
      const [letter] = await until(async () => {
        const l = await s.client.deadLetters();
        return l.length ? l : undefined;
      }, 'the entry parked');
      const said = `no task with id "hand1": an entry with that id was parked as dead letter ${letter!.key}, never queued (bad_option: task "hand1": attempts must be an integer from 1 to 1000, got 0); \`task-swarm dead\` lists it`;
      for (const argv of [['get', 'hand1'], ['wait', 'hand1'], ['cancel', 'hand1'], ['control', 'hand1', 'stop']]) {
        expect(await s.run(...argv), argv.join(' ')).toMatchObject({ code: 1, stdout: '', stderr: `task-swarm: ${said}\n` });
      }
      const events = await s.run('events', 'hand1', '--timeout', '300');
      expect(events.stderr).toMatch(/^task hand1 is not known \(yet\); an entry with that id was parked as dead letter \d+, never queued \(bad_option: /m);
      // an id no letter holds: as before
      expect((await s.run('get', 'other')).stderr).toBe('task-swarm: no task with id "other" (never submitted, its retention expired, or purged as a dead letter)\n');
    } finally {
      await worker.stop();
      await s.client.close();
    }
  });
});

describe('the start lines of a worker and a monitor', () => {
  it('name the Redis and the key prefix they work on', async () => {
    const prefix = `newcomer${++n}:`;
    const options = { ...server.options(), keyPrefix: prefix };
    const lines: string[] = [];
    const logger = { debug() {}, info: (m: string) => lines.push(m), warn() {}, error() {} };
    const worker = new Worker({ port: 0, redis: options, logger });
    worker.addTaskFunction('echo', (t) => t.data);
    await worker.start();
    await worker.stop();
    const monitor = new Monitor({ redis: options, logger });
    await monitor.start();
    await monitor.stop();
    const where = `(Redis ${server.url}, key prefix "${prefix}")`;
    expect(lines.find((l) => l.startsWith('started on'))).toContain(where);
    expect(lines.find((l) => l.startsWith('started ('))).toContain(where);
  });
});

describe('Ctrl-C on submit --wait', () => {
  it('says only the wait stopped, the task goes on, and how to cancel it; exit 130', async () => {
    const s = swarm();
    try {
      const signals = process.listenerCount('SIGINT');
      const running = s.run('submit', 'nobody', '--id', 'waited1', '--wait', '--wait-timeout', '5000');
      await until(async () => process.listenerCount('SIGINT') > signals, 'the wait under way');
      process.emit('SIGINT', 'SIGINT');
      const r = await running;
      expect(r.code).toBe(130);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^task-swarm: interrupted: only the wait stopped, task "waited1" goes on \(`task-swarm cancel waited1` cancels it\)\n$/m);
      expect(process.listenerCount('SIGINT')).toBe(signals);
      expect((await s.client.get('waited1'))?.state).toBe('QUEUED');
    } finally {
      await s.client.close();
    }
  });
});
