/**
 * Every command of the CLI, run in-process through `main` against a private Redis and real
 * workers: the worker and the monitor themselves (stopped by a signal), control, events, dead,
 * retry-dead, purge-dead; the help of the program and of each command, --version, the mistakes
 * commander finds (each one line, exit 2), choices refused; and the progress `wait`,
 * `submit --wait` and `events` show while a task reports it: a line per update in a log, one
 * line redrawn in place on a terminal.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MONITOR_FIELDS, WORKER_FIELDS } from '../src/config.js';
import { Client, Worker, type WorkerOptions } from '../src/index.js';
import { cliSwarm, expectOneLine, runMain, runProcess } from './helpers/cli.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let n = 0;
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-cli-commands-'));
const cleanup: (() => Promise<unknown>)[] = [];
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** the commands the CLI has, in the order its help lists them */
const COMMANDS = [
  'worker',
  'monitor',
  'submit',
  'get',
  'wait',
  'cancel',
  'control',
  'events',
  'dead',
  'retry-dead',
  'purge-dead',
  'limit',
  'limits',
  'pause',
  'resume',
  'status',
  'schedule',
  'unschedule',
  'schedules',
  'move-slot',
  'dashboard',
];

/** a swarm of its own; `tty` runs the CLI as on a terminal 120 columns wide */
function swarm() {
  const s = cliSwarm(server, redis, `cmd${++n}:`);
  cleanup.push(() => s.client.close());
  const tty = (...argv: string[]) => runMain([...argv, '--key-prefix', s.prefix], { REDIS_URL: server.url }, { columns: 120 });
  return { ...s, tty };
}

/**
 * A worker of the swarm: `echo`; `steps`, which waits for a `go` control event, then reports
 * progress 25, 50, 75 and 100 %; `long`, which answers `ping` with `pong` until it is stopped.
 */
async function worker(prefix: string, options: Partial<WorkerOptions> = {}): Promise<Worker> {
  const w = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: prefix }, logger: quiet, ...options });
  w.addTaskFunction('echo', (t) => t.data);
  w.addTaskFunction('steps', async (t) => {
    await new Promise((resolve) => t.on('go', resolve));
    for (const pct of [25, 50, 75, 100]) await t.update({ pct });
    return 'done';
  });
  w.addTaskFunction(
    'long',
    (t) =>
      new Promise((_resolve, reject) => {
        t.on('ping', (p) => t.emit('pong', p));
        t.signal.addEventListener('abort', () => reject(t.signal.reason as Error));
      }),
  );
  await w.start();
  cleanup.push(() => w.stop());
  return w;
}

/** once task `id` runs and the CLI listens to its events */
async function followed(s: { prefix: string; client: Client }, id: string): Promise<void> {
  await until(async () => (await s.client.get(id))?.state === 'RUNNING', `${id} to run`);
  const channel = `${s.prefix}task-${id}-events`;
  await until(async () => ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] > 0, `the CLI to follow ${id}`);
}

const PROGRESS = (pct: number) => `{"pct":${pct}}`;
const bar = (pct: number) => `[${'#'.repeat(Math.round(pct / 5)).padEnd(20, '.')}] ${String(pct).padStart(3)}% ${PROGRESS(pct)}`;

describe('help and version', () => {
  it('--help lists every command with its summary, and the options of every command', async () => {
    for (const flag of ['--help', '-h']) {
      const r = await runMain([flag]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/^Usage: task-swarm <command>/);
      // (each command's line: two spaces, its name and what it takes, two spaces or more, its summary;
      // or, a term too wide for the column of summaries, its summary on the lines under it)
      const lines = [...r.stdout.matchAll(/^ {2}([a-z][a-z-]*)((?: \S+)*)(?: {2,}|\n {4,})[a-z]/gm)].map((m) => ({ name: m[1]!, takes: m[2]!.trim() }));
      expect(lines.map((l) => l.name)).toEqual(COMMANDS);
      // each command with the arguments it takes, as its usage line says them
      for (const term of ['submit <function> [json-data]', 'get <id>', 'control <id> <message>', 'retry-dead <key>', 'limit <function> | --group <name>', 'schedule <name> <function> [json-data]', 'unschedule <name>', 'move-slot --to host:port [--partition n]']) {
        expect(r.stdout, term).toMatch(new RegExp(`^ {2}${term.replace(/[[\]|]/g, '\\$&')}(?: {2,}|\n {4,})[a-z]`, 'm'));
      }
      // and as its own usage line says it (it said `limit [function]`, its usage `limit <function> | --group <name>`)
      for (const { name, takes } of lines) {
        const usage = (await runMain(['help', name])).stdout.split('\n')[0]!.replace(/^Usage: task-swarm \S+ /, '').replace(/^\[options\] ?/, '');
        expect(usage.startsWith(takes), `${name}: "${takes}" listed, usage "${usage}"`).toBe(true);
      }
      expect(r.stdout).toMatch(/^ {2}status {2,}counts/m);
      // (read with its line breaks as spaces: a description is wrapped over lines)
      for (const o of ['--redis-url <url>', 'env: REDIS_URL', '--redis-cluster <h:p,h:p>', '--key-prefix <value>', '--partitions <n>', '--version']) expect(r.stdout.replace(/\s+/g, ' ')).toContain(o);
    }
  });

  for (const c of COMMANDS) {
    it(`${c} --help: its usage, its own options, those of every command; nothing else runs`, async () => {
      const r = await runMain([c, '--help'], { REDIS_URL: 'redis://127.0.0.1:1' });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(new RegExp(`^Usage: task-swarm ${c} `));
      expect(r.stdout).toContain('Global Options:');
      expect(r.stdout).toContain('--redis-password-file <path>');
      expect((await runMain([c, '-h'])).stdout).toBe(r.stdout);
    });
  }

  it('--help wraps each description to the width it prints at: no line broken where the next word fits', async () => {
    for (const columns of [80, 120]) {
      for (const c of COMMANDS) {
        const r = await runMain([c, '--help'], {}, { columns });
        // the description: from the line after Usage to the first heading
        const text = r.stdout.split(/\n(?:Arguments|Options):\n/)[0]!.split('\n').slice(1).join('\n');
        for (const paragraph of text.split('\n\n')) {
          const lines = paragraph.split('\n').filter((l) => l !== '');
          for (let i = 0; i + 1 < lines.length; i++) {
            const next = lines[i + 1]!.split(' ')[0]!;
            expect(lines[i]!.length + 1 + next.length, `${c} at ${columns} columns: ${JSON.stringify(lines[i])} then ${JSON.stringify(next)}`).toBeGreaterThan(columns);
          }
        }
      }
    }
  });

  it("worker and monitor --help have a flag for each option of the schema's, and the log level's choices", async () => {
    for (const [c, fields] of [
      ['worker', WORKER_FIELDS],
      ['monitor', MONITOR_FIELDS],
    ] as const) {
      const r = await runMain([c, '--help']);
      for (const key of Object.keys(fields)) expect(r.stdout, key).toMatch(new RegExp(`^ {2}--${kebab(key)} <(n|value)> +\\S`, 'm'));
      // (a description wrapped over lines: read with its line breaks as spaces)
      const text = r.stdout.replace(/\s+/g, ' ');
      expect(text).toMatch(/--log <level> .*\(choices: "silly", "trace", "debug", "info", "warn", "error", "fatal", "silent", env: TASK_SWARM_LOG\)/);
      expect(text).toMatch(/--secret <secret> .*\(env: TASK_SWARM_SECRET\)/);
    }
  });

  it('--version prints the version of package.json, from anywhere in the line', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await runMain(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect(await runMain(['status', '--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});

describe('mistakes in the command line: one line, exit 2', () => {
  const mistakes: [string, string[], Record<string, string>, RegExp][] = [
    ['no command', [], {}, /^task-swarm: missing command \(one of worker, monitor, .*, schedules, move-slot, dashboard\); "task-swarm --help" shows usage$/],
    ['a command that is not one', ['stat'], {}, /^task-swarm: unknown command "stat" \(one of /],
    ['an option that is not one, close to one', ['status', '--jsn'], {}, /^task-swarm: unknown option --jsn \(did you mean --json\?\); "task-swarm status --help" lists the options/],
    ['an option of another command', ['get', 'x', '--limit', '3'], {}, /^task-swarm: option --limit does not apply to "get"; "task-swarm get --help" lists its options$/],
    ["a command's option before the command", ['--json', 'status'], {}, /^task-swarm: option --json belongs to a command \(dead, limits, status, schedules, move-slot\): give it after the command's name$/],
    ['a value for a flag that takes none', ['status', '--json=yes'], {}, /^task-swarm: option --json takes no value$/],
    ['a value left out at the end', ['submit', 'f', '--priority'], {}, /^task-swarm: option --priority needs a value$/],
    ['a value left out before another flag', ['submit', 'f', '--id', '--wait'], {}, /^task-swarm: option --id needs a value \(one starting with "-" goes as --id=-value\)$/],
    ['an id holding a control character (submit prints the id, one line, for a script to read)', ['submit', 'f', '--id', 'a\nb'], {}, /^task-swarm: submit: --id must not hold control characters, got "a\\nb"$/],
    ['a missing argument', ['retry-dead'], {}, /^task-swarm: retry-dead: missing key \(as listed by `dead`\) \(usage: task-swarm retry-dead \[options\] <key>\)$/],
    ['an empty argument', ['get', ''], {}, /^task-swarm: get: missing task id/],
    ['one argument too many', ['control', 'id', 'stop', 'now'], {}, /^task-swarm: control: unexpected argument "now" \(usage: task-swarm control \[options\] <id> <message>\)$/],
    ['a log level that is none', ['worker', '--functions', 'x.mjs', '--log', 'loud'], {}, /^task-swarm: --log must be one of silly, trace, debug, info, warn, error, fatal, silent, got "loud"$/],
    ['a log level that is none, from the environment', ['monitor'], { TASK_SWARM_LOG: 'loud' }, /^task-swarm: env TASK_SWARM_LOG: --log must be one of .*, got "loud"$/],
    ['an overlap that is none', ['schedule', 'n', 'f', '--every', '100', '--overlap', 'sometimes'], {}, /^task-swarm: --overlap must be allow or skip, got "sometimes"$/],
    ['an integer that is not', ['dead', '--limit', 'ten'], {}, /^task-swarm: --limit must be an integer, got "ten"$/],
    ['a field of the schema that is not an integer', ['monitor', '--task-timeout', '1.5'], {}, /^task-swarm: --task-timeout must be an integer, got "1.5"$/],
    ['a control message that is none', ['control', 'id', 'pause'], {}, /^task-swarm: control message "pause" is none of stop, reload, watch; a custom event is JSON/],
    ['a control message that is not JSON', ['control', 'id', '{pause'], {}, /^task-swarm: control message is not valid JSON/],
    // (a typo, "evnt" for "event", would send the message out without its event)
    ['a control event with a key it does not know', ['control', 'id', '{"event_name":"x","extra":1}'], {}, /^task-swarm: control message: unknown key "extra" \(known: event_name, event\)$/],
    // (JSON.parse reads such a number as Infinity, which JSON.stringify writes as null: the task would get null where the user typed a number)
    ['json-data holding a number too large for a double', ['submit', 'f', '{"n":1e400}'], {}, /^task-swarm: json-data holds a number too large to be carried \(1e400\), which would arrive as null$/],
    ['a control event holding a number too large for a double', ['control', 'id', '{"event_name":"e","event":[-2e308]}'], {}, /^task-swarm: control message holds a number too large to be carried \(-2e308\), which would arrive as null$/],
    ['the typed Redis password and its file both', ['status', '--redis-password', 'x', '--redis-password-file', '/dev/null'], {}, /^task-swarm: --redis-password and --redis-password-file both given/],
  ];
  for (const [what, argv, env, message] of mistakes) {
    it(what, async () => {
      const r = await runMain(argv, { REDIS_URL: 'redis://127.0.0.1:1', ...env });
      // (a typed secret warns, on its own line, before the error)
      const errors = r.stderr.split('\n').filter((l) => l && !l.startsWith('task-swarm: warning: '));
      expectOneLine({ ...r, stderr: errors.join('\n') }, 2, message);
      expect(r.stdout).toBe('');
    });
  }

  it('a --log in any case is taken, and TASK_SWARM_LOG set empty counts as unset', async () => {
    // (each then fails where it should: no --functions module)
    expectOneLine(await runMain(['worker', '--log', 'SILENT']), 2, /worker: missing --functions <module>/);
    expectOneLine(await runMain(['worker'], { TASK_SWARM_LOG: '' }), 2, /worker: missing --functions <module>/);
  });
});

describe('the environment: REDIS_URL', () => {
  it('is where Redis is unless --redis-url is typed', async () => {
    const env = { REDIS_URL: server.url };
    expect((await runMain(['status', '--json', '--key-prefix', 'envurl:'], env)).code).toBe(0);
    const typed = await runMain(['status', '--json', '--key-prefix', 'envurl:', '--redis-url', server.url], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(typed).toMatchObject({ code: 0, stderr: '' });
    expectOneLine(await runMain(['status'], { REDIS_URL: 'redis://127.0.0.1:1' }), 1, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
  });
});

describe('--redis-cluster naming a Redis that is no Cluster', () => {
  it('one line saying it is not a Cluster, not that none of its nodes answered', async () => {
    for (const argv of [['--redis-cluster', `127.0.0.1:${server.port}`], ['--redis-url', `redis+cluster://127.0.0.1:${server.port}`]]) {
      const r = await runMain(['status', ...argv]);
      expectOneLine(r, 1, /: a node answered, but it is not a Redis Cluster \(ERR This instance has cluster support disabled\)/);
      expect(r.stderr).not.toMatch(/none of its nodes answered/);
    }
  });
});

describe("the swarm's keys, for every command", () => {
  it('--partitions spreads the swarm as redis.partitions does: a client with the same number finds what the CLI queued', async () => {
    const prefix = `{cmdp${++n}}:`;
    const run = (...argv: string[]) => runMain([...argv, '--key-prefix', prefix, '--partitions', '4'], { REDIS_URL: server.url });
    const ids = Array.from({ length: 8 }, (_, i) => `p${i}`);
    for (const id of ids) expect((await run('submit', 'f', '--id', id)).stdout).toBe(`${id}\n`);
    const client = new Client({ redis: { ...server.options(), keyPrefix: prefix, partitions: 4 } });
    cleanup.push(() => client.close());
    for (const id of ids) expect(await client.get(id)).toMatchObject({ id, state: 'QUEUED' });
    expect(JSON.parse((await run('status', '--json')).stdout)).toMatchObject({ queued: 8 });
    expect(JSON.parse((await run('get', 'p7')).stdout)).toMatchObject({ id: 'p7', state: 'QUEUED' });
    // the swarm keeps its count: a command that counts otherwise is refused, naming the flag
    expectOneLine(await runMain(['submit', 'f', '--key-prefix', prefix], { REDIS_URL: server.url }), 2, /^task-swarm: --partitions is 1 here, but this swarm is laid out in 4 partition\(s\)/);
    expectOneLine(await runMain(['status', '--partitions', '0'], { REDIS_URL: server.url }), 2, /^task-swarm: --partitions must be an integer >= 1, got "0"\n$/);
  });
});

describe('worker and monitor, in-process, until a signal', () => {
  const logLevel = process.env.TASK_SWARM_LOG;
  afterEach(() => {
    process.env.TASK_SWARM_LOG = logLevel; // --log sets it for the components the command starts
  });

  it('worker --functions runs the module\'s functions with the schema\'s options; SIGTERM stops it, status 0', async () => {
    const s = swarm();
    const module = join(dir, 'tasks.mjs');
    writeFileSync(module, 'export function triple(task) { return task.data * 3; }\n');
    const signals = process.listenerCount('SIGTERM');
    const running = s.run('worker', '--functions', module, '--port', '0', '--concurrency', '2', '--log', 'SILENT');
    await until(async () => (await redis.smembers(`${s.prefix}workers`)).length > 0, 'the worker to register');
    expect(await s.client.wait(await s.client.submit('triple', 7), { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 21 });
    process.emit('SIGTERM', 'SIGTERM');
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('task-swarm: SIGTERM: stopping the worker (SIGTERM again to exit at once)\n');
    expect(process.listenerCount('SIGTERM')).toBe(signals);
    expect(await redis.smembers(`${s.prefix}workers`)).toEqual([]);
  });

  it('worker stopped with tasks running says how long it waits for them, and what becomes of them then', async () => {
    const s = swarm();
    const module = join(dir, 'slow.mjs');
    // (the task's hash says RUNNING once claimed, before the worker has the reply: the function
    // marks a file when it runs, so the signal comes with the task held here)
    const started = join(dir, 'slow-started');
    writeFileSync(
      module,
      `import { writeFileSync } from 'node:fs';\n` +
        `export function slow(task) { writeFileSync(${JSON.stringify(started)}, task.id); return new Promise((_, reject) => task.signal.addEventListener('abort', () => reject(task.signal.reason))); }\n`,
    );
    const running = s.run('worker', '--functions', module, '--port', '0', '--stop-grace', '300', '--log', 'silent');
    await until(async () => (await redis.smembers(`${s.prefix}workers`)).length > 0, 'the worker to register');
    const id = await s.client.submit('slow');
    await until(async () => existsSync(started), `${id} to run`);
    process.emit('SIGINT', 'SIGINT');
    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(
      'task-swarm: SIGINT: stopping the worker (SIGINT again to exit at once)\n' +
        'task-swarm: waiting up to 300 ms (--stop-grace) for 1 running task(s) to end; then they go back to the queue\n',
    );
    expect(await s.client.get(id)).toMatchObject({ state: 'QUEUED' });
  });

  it('worker on a port in use: one line naming it, not a log line saying it first', async () => {
    const s = swarm();
    const module = join(dir, 'tasks.mjs');
    writeFileSync(module, 'export function triple(task) { return task.data * 3; }\n');
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as AddressInfo).port;
    try {
      const r = await runProcess(['worker', '--functions', module, '--host', '127.0.0.1', '--port', String(port), '--key-prefix', s.prefix], { REDIS_URL: server.url, TASK_SWARM_LOG: 'info' });
      expectOneLine({ ...r, code: r.code ?? -1 }, 1, new RegExp(`^task-swarm: cannot listen on 127\\.0\\.0\\.1:${port} for peer pings: port already in use`));
      expect(r.stdout).toBe('');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('monitor fires a schedule; SIGINT stops it, status 0', async () => {
    const s = swarm();
    await s.client.schedule('tick', { every: 100 }, 'noop');
    const running = s.run('monitor', '--check-task-interval', '100', '--log', 'silent');
    await until(async () => (await s.client.schedules())[0]?.lastId, 'the monitor to fire the schedule');
    process.emit('SIGINT', 'SIGINT');
    const r = await running;
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toMatch(/^task-swarm: SIGINT: stopping the monitor/);
  });
});

describe('dashboard', () => {
  it('a Redis that is not there: one line naming it, as every command says, not a page that answers 503', async () => {
    const running = runMain(['dashboard', '--read-only', '--port', '0'], { REDIS_URL: 'redis://127.0.0.1:1' });
    // (served anyway, it runs until a signal: this one ends it, the test then failing)
    const timer = setTimeout(() => process.emit('SIGINT', 'SIGINT'), 6000);
    const r = await running;
    clearTimeout(timer);
    expectOneLine(r, 1, /^task-swarm: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: /);
    expect(r.stdout).toBe('');
  });

  it('a port in use, or an address not on this host, is one line naming it and the flag that picks another, exit 1', async () => {
    const s = swarm();
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
    const port = (taken.address() as AddressInfo).port;
    try {
      expectOneLine(await s.run('dashboard', '--read-only', '--port', String(port)), 1, new RegExp(`^task-swarm: cannot listen on 127\\.0\\.0\\.1:${port} for the dashboard: port already in use \\(pick another with --port\\)\n$`));
      // (192.0.2.1: an address for documentation, on no host)
      expectOneLine(await s.run('dashboard', '--read-only', '--port', '0', '--host', '192.0.2.1'), 1, /^task-swarm: cannot listen on 192\.0\.2\.1:0 for the dashboard: no such address on this host \(pick another with --host\)\n$/);
    } finally {
      await new Promise((r) => taken.close(r));
      await s.client.close();
    }
  });
});

describe('control and events', () => {
  it('control sends a custom event and stop to a running task; events prints what it answers, to its end', async () => {
    const s = swarm();
    await worker(s.prefix);
    expect((await s.run('submit', 'long', '--id', 'c1')).code).toBe(0);
    const events = s.run('events', 'c1', '--timeout', '10000');
    await followed(s, 'c1');

    const ping = await s.run('control', 'c1', '{"event_name":"ping","event":{"n":1}}');
    expect(ping).toMatchObject({ code: 0, stderr: '' });
    expect(ping.stdout).toMatch(/^sent event "ping" to task c1 \(running on \S+\)\n$/);
    await until(async () => (await redis.hget(`${s.prefix}task-c1`, 'state')) === 'RUNNING', 'still running');
    // watch, as Client.control takes it: the worker publishes the task machine's state
    const watch = await s.run('control', 'c1', 'watch');
    expect(watch).toMatchObject({ code: 0, stderr: '' });
    expect(watch.stdout).toMatch(/^sent watch to task c1 \(running on \S+\)\n$/);
    // the pong is published before the stop, on the same channel: it is printed first
    await new Promise((r) => setTimeout(r, 200));
    expect((await s.run('control', 'c1', 'stop')).stdout).toMatch(/^sent stop to task c1 /);

    const r = await events;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('following task c1 (RUNNING); Ctrl-C to stop\n');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; data: Record<string, unknown> });
    expect(lines.find((l) => l.event === 'pong')?.data).toEqual({ n: 1 });
    expect(lines.find((l) => l.event === 'machine-state')?.data).toMatchObject({ id: 'c1' });
    // (the end is what the hash says: the `end` event may come after it, and the command has ended)
    expect(await s.client.get('c1')).toMatchObject({ state: 'END', outcome: 'stopped' });

    expectOneLine(await s.run('control', 'c1', 'stop'), 1, /^task-swarm: task "c1" has ended \(stopped\): control messages only reach running tasks\n$/);
    expectOneLine(await s.run('control', 'nope', 'stop'), 1, /no task with id "nope"/);
    expect((await s.run('submit', 'nobody', '--id', 'q1')).code).toBe(0);
    expectOneLine(await s.run('control', 'q1', 'reload'), 1, /task "q1" is queued, not running yet/);
    // a delayed one is said delayed; a stop of either says what removes it
    expect((await s.run('submit', 'nobody', '--id', 'd1', '--delay', '600000')).code).toBe(0);
    expectOneLine(await s.run('control', 'd1', 'reload'), 1, /^task-swarm: task "d1" is delayed, not running yet: control messages only reach running tasks\n$/);
    expectOneLine(await s.run('control', 'q1', 'stop'), 1, /^task-swarm: task "q1" was queued, not running yet: control messages only reach running tasks \(to remove it: task-swarm cancel q1\)\n$/);
    expect((await s.run('control', '--help')).stdout).toMatch(/stop, reload, watch or JSON/);
    // on an ended task, events says so and ends at once
    expect(await s.run('events', 'c1')).toMatchObject({ code: 0, stdout: '', stderr: 'task c1 has already ended (stopped); "task-swarm get c1" shows it\n' });
  });
});

describe('dead, retry-dead, purge-dead', () => {
  it('list the dead letters by key, newest first; requeue a parked task once its cause is fixed; delete junk', async () => {
    const s = swarm();
    // a worker that takes nothing over 200 bytes parks the big task; the junk holds no task at all
    const small = await worker(s.prefix, { maxPayloadBytes: 200 });
    expect((await s.run('submit', 'echo', JSON.stringify('x'.repeat(500)), '--id', 'big')).code).toBe(0);
    await until(async () => (await s.client.get('big'))?.parked, 'the big task to be parked');
    await redis.lpush(`${s.prefix}new-task`, 'not json');
    await until(async () => (await s.client.stats()).dead === 2, 'two dead letters');

    const dead = await s.run('dead');
    expect(dead).toMatchObject({ code: 0, stderr: '' });
    const [junkLine, bigLine, ...more] = dead.stdout.trim().split('\n');
    expect(more).toEqual([]);
    expect(junkLine).toMatch(/^key \d+ {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}bad_json {2}/);
    expect(bigLine).toMatch(/^key \d+ {2}\S+ \S+ {2}too_large {2}id=big {2}/);
    const json = JSON.parse((await s.run('dead', '--json')).stdout) as { key: string; id?: string; reason: string }[];
    expect(json.map((l) => l.reason)).toEqual(['bad_json', 'too_large']);
    const [junkKey, bigKey] = json.map((l) => l.key);
    expect((await s.run('dead', '--limit', '1')).stdout).toBe(`${junkLine}\n(1 older not shown; --limit 2 shows all)\n`);

    // fixed: a worker that takes it
    await small.stop();
    await worker(s.prefix);
    expect(await s.run('retry-dead', bigKey!)).toMatchObject({ code: 0, stdout: `requeued dead letter ${bigKey} (task big, was too_large)\n`, stderr: '' });
    expect(await s.client.wait('big', { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'x'.repeat(500) });
    expect(await s.run('purge-dead', junkKey!)).toMatchObject({ code: 0, stdout: `purged dead letter ${junkKey} (bad_json)\n` });
    expect((await s.run('dead')).stdout).toBe('no dead letters\n');
    expectOneLine(await s.run('retry-dead', bigKey!), 1, new RegExp(`^task-swarm: no dead letter with key ${bigKey} \\(retried, purged or dropped already`));
    expectOneLine(await s.run('purge-dead', 'x1'), 2, /^task-swarm: purge-dead: a dead letter's key is a number/);
  });

  it('get of a task whose dead letter was purged says it may have been purged, not only never submitted or expired', async () => {
    const s = swarm();
    await worker(s.prefix, { maxPayloadBytes: 200 });
    expect((await s.run('submit', 'echo', JSON.stringify('x'.repeat(500)), '--id', 'gone')).code).toBe(0);
    await until(async () => (await s.client.get('gone'))?.parked, 'the task to be parked');
    const [letter] = await s.client.deadLetters();
    expect((await s.run('purge-dead', letter!.key)).code).toBe(0);
    expectOneLine(await s.run('get', 'gone'), 1, /^task-swarm: no task with id "gone" \(never submitted, its retention expired, or purged as a dead letter\)\n$/);
  });

  it('retry-dead refuses, in one line saying why and exit status 1 (nothing retried), an entry parked for a bad option: it is in the entry, and would be parked again', async () => {
    const s = swarm();
    await worker(s.prefix);
    await redis.lpush(`${s.prefix}new-task`, '{"id":"hp","function":"echo","priority":"high"}');
    await until(async () => (await s.client.stats()).dead === 1, 'the dead letter');
    const [letter] = await s.client.deadLetters();
    expect(letter).toMatchObject({ reason: 'bad_option', id: 'hp' });
    // (exit 1, nothing retried, as for a key no letter has: the command line was right, the entry
    // is what cannot go; exit 2 said the command line was wrong)
    const r = await s.run('retry-dead', letter!.key);
    expectOneLine(
      r,
      1,
      new RegExp(`^task-swarm: nothing retried: dead letter ${letter!.key} was parked for bad_option, which its entry is as it stands: queued again, it would be parked again; purge it`),
    );
    expect(r.stderr).toMatch(new RegExp(`\\(\`task-swarm purge-dead ${letter!.key}\` purges it\\)\n$`));
    expect(r.stdout).toBe('');
    // left as it was: listed under the same key, nothing queued
    expect((await s.client.deadLetters()).map((l) => l.key)).toEqual([letter!.key]);
    expect(await redis.llen(`${s.prefix}new-task`)).toBe(0);
  });
});

describe('progress while waiting', () => {
  it('wait says on stderr what it waits for, and why the task cannot start (no live worker serves its function)', async () => {
    const s = swarm();
    await redis.hset(`${s.prefix}task-q1`, { state: 'QUEUED', function: 'resize', data: '1' });
    const r = await s.run('wait', 'q1', '--timeout', '500');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        'task q1 is QUEUED; waiting for its end',
        'task "q1" waits, QUEUED: no live worker serves function "resize" (it runs when one that does starts)',
        'task-swarm: task "q1" did not end within 500 ms',
        '',
      ].join('\n'),
    );
  });

  it('wait on a delayed task says until when, and that it is a retry; with no live worker, still DELAYED, not QUEUED', async () => {
    const s = swarm();
    const runAt = Date.UTC(2099, 0, 1);
    await redis.hset(`${s.prefix}task-d1`, { state: 'DELAYED', function: 'resize', data: '1', runAt: String(runAt), reason: 'retry', attempt: '1' });
    const r = await s.run('wait', 'd1', '--timeout', '500');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      [
        'task d1 is DELAYED; waiting for its end',
        'task "d1" waits, DELAYED until 2099-01-01T00:00:00.000Z (a retry: attempt 1 failed): no live worker serves function "resize" (it runs when one that does starts)',
        'task-swarm: task "d1" did not end within 500 ms',
        '',
      ].join('\n'),
    );
    // a worker serves it: when it runs is all there is to say
    await worker(s.prefix);
    await redis.hset(`${s.prefix}task-d2`, { state: 'DELAYED', function: 'long', data: '1', runAt: String(runAt), reason: 'delay' });
    const r2 = await s.run('wait', 'd2', '--timeout', '500');
    expect(r2.stderr.split('\n')[1]).toBe('task "d2" waits, DELAYED until 2099-01-01T00:00:00.000Z');
  });

  it('wait on a terminal: one line, redrawn at each update, with a bar; stdout is the task as JSON', async () => {
    const s = swarm();
    await worker(s.prefix);
    expect((await s.run('submit', 'steps', '--id', 'p1')).code).toBe(0);
    await until(async () => (await s.client.get('p1'))?.state === 'RUNNING', 'p1 to run');
    const waiting = s.tty('wait', 'p1', '--timeout', '10000');
    await followed(s, 'p1');
    await s.client.control('p1', { event_name: 'go' });
    const r = await waiting;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'p1', outcome: 'succeeded', result: 'done' });
    const [said, ...draws] = r.stderr.split('\r\x1b[2K');
    expect(said).toBe('task p1 is RUNNING; waiting for its end\n');
    expect(draws.map((d) => d.replace(/^\d\d:\d\d:\d\d\.\d{3} /, ''))).toEqual([25, 50, 75].map((p) => `p1 progress ${bar(p)}`).concat(`p1 progress ${bar(100)}\n`));
    expect(r.stderr.match(/\n/g)).toHaveLength(2); // the updates did not scroll: only the last one ends its line
  });

  it('submit --wait into a log: a line per update, as every event', async () => {
    const s = swarm();
    await worker(s.prefix);
    const waiting = s.run('submit', 'steps', '--id', 'p2', '--wait', '--wait-timeout', '10000');
    await followed(s, 'p2');
    await s.client.control('p2', { event_name: 'go' });
    const r = await waiting;
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'p2', outcome: 'succeeded' });
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toBe('submitted p2; waiting for its end');
    expect(lines.slice(1).map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d{3} /, ''))).toEqual([25, 50, 75, 100].map((p) => `p2 progress ${PROGRESS(p)}`));
  });

  it('events into a log: every event a JSON line on stdout, no progress line on stderr (as README and --help say)', async () => {
    const s = swarm();
    await worker(s.prefix);
    expect((await s.run('submit', 'steps', '--id', 'p5')).code).toBe(0);
    await until(async () => (await s.client.get('p5'))?.state === 'RUNNING', 'p5 to run');
    const following = s.run('events', 'p5', '--timeout', '10000');
    await followed(s, 'p5');
    await s.client.control('p5', { event_name: 'go' });
    const r = await following;
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string });
    expect(events.filter((e) => e.event === 'progress')).toHaveLength(4);
    expect(r.stderr).toBe('following task p5 (RUNNING); Ctrl-C to stop\n');
  });

  it('events on a terminal: every event a JSON line on stdout, the progress a line redrawn on stderr', async () => {
    const s = swarm();
    await worker(s.prefix);
    expect((await s.run('submit', 'steps', '--id', 'p3')).code).toBe(0);
    const following = s.tty('events', 'p3', '--timeout', '10000');
    await followed(s, 'p3');
    await s.client.control('p3', { event_name: 'go' });
    const r = await following;
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; data: unknown });
    expect(events.filter((e) => e.event !== 'end')).toEqual([25, 50, 75, 100].map((pct) => ({ event: 'progress', data: { pct }, at: expect.any(Number) })));
    expect(r.stderr.startsWith('following task p3 (RUNNING); Ctrl-C to stop\n')).toBe(true);
    expect(r.stderr).toContain(`p3 progress ${bar(100)}\n`);
    expect(r.stderr.match(/\n/g)).toHaveLength(2);
  });

  it('a progress line wider than the terminal is cut to it (a wrapped line would not redraw)', async () => {
    const s = swarm();
    await worker(s.prefix);
    expect((await s.run('submit', 'steps', '--id', 'p4')).code).toBe(0);
    await until(async () => (await s.client.get('p4'))?.state === 'RUNNING', 'p4 to run');
    const waiting = runMain(['wait', 'p4', '--key-prefix', s.prefix], { REDIS_URL: server.url }, { columns: 40 });
    await followed(s, 'p4');
    await s.client.control('p4', { event_name: 'go' });
    const r = await waiting;
    expect(r.code).toBe(0);
    for (const draw of r.stderr.split('\r\x1b[2K').filter(Boolean)) expect(draw.replace(/\n$/, '').length).toBeLessThanOrEqual(39);
  });
});
