/**
 * What the CLI prints from Redis is printed by total functions. An event, a task hash or a dead
 * letter holds whatever someone wrote there (PUBLISH or HSET by hand, a bug, an older version):
 * a time out of Date's range, a name that is not a string, nesting deeper than
 * JSON.stringify's stack, not even an object. Each still prints (one line per event, one JSON
 * document per task) and the command goes on to its normal end.
 */
import { spawn } from 'node:child_process';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { within } from '../src/within.js';
import { CLI, runMain } from './helpers/cli.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let prefixes = 0;
beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
});
afterAll(async () => {
  await server.stop();
});

/** JSON text nested `depth` levels deep: JSON.parse takes it, JSON.stringify overflows its stack */
const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

/** Events no runtime sends, each of which once ended the command that printed it. */
const JUNK_OBJECTS = [
  '{"event":"progress","data":1,"at":1e20}', // out of Date's range: toISOString throws
  '{"event":"progress","data":1,"at":-8.64e15}', // the earliest Date there is
  '{"event":"progress","data":1,"at":"noon"}',
  '{"event":"progress","data":{"a":[1,{"b":null}]}}', // no `at`
  '{"event":{"toString":1},"data":1,"at":0}', // a name that cannot become a string
  '{"event":"two\\nlines","data":"and\\nmore","at":0}',
  `{"event":"deep","data":${deep(200_000)},"at":0}`,
  '{}',
];
/** Not objects at all (a client that parses them hands them on as they are). */
const NOT_OBJECTS = ['42', '"a string"', '[1,2]', 'true'];

/** A task hash as a worker leaves it while the task runs. */
async function running(prefix: string, id: string): Promise<void> {
  await redis.hset(`${prefix}task-${id}`, { state: 'RUNNING', function: 'f', worker: '127.0.0.1:1', attempt: '1', data: JSON.stringify({ id, function: 'f', data: null }) });
}

/** End it as the runtime does: the hash first, then the `end` event. */
async function end(prefix: string, id: string): Promise<void> {
  await redis.hset(`${prefix}task-${id}`, { state: 'END', outcome: 'succeeded', result: '1', end: String(Date.now()) });
  await redis.publish(`${prefix}task-${id}-events`, JSON.stringify({ event: 'end', data: { outcome: 'succeeded', result: 1 }, at: Date.now() }));
}

/** Runs the CLI as a process, publishes `messages` once it listens, then ends the task. */
async function follow(command: 'wait' | 'events', messages: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const prefix = `out${++prefixes}:`;
  const id = 'followed';
  await running(prefix, id);
  const env = { ...process.env, REDIS_URL: server.url };
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, command, id, '--key-prefix', prefix], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  try {
    const channel = `${prefix}task-${id}-events`;
    await until(async () => proc.exitCode !== null || ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] > 0, `${command} to subscribe`);
    // Once subscribed it has also read the hash (it says so); publishing earlier could race that read.
    await until(() => proc.exitCode !== null || /following|waiting/.test(stderr), `${command} to read the task`);
    for (const m of messages) await redis.publish(channel, m);
    // All shown before the end, which would otherwise race them (the hash read may see END first).
    // (wait's first line on stderr says what it waits for)
    const shown = () => (command === 'wait' ? stderr.split('\n').filter(Boolean).length - 1 : stdout.split('\n').filter(Boolean).length);
    await until(() => proc.exitCode !== null || shown() >= messages.length, 'the events to be printed').catch(() => {});
    await end(prefix, id);
    const code = (await within(10_000, exited)) ?? null;
    return { code, stdout, stderr };
  } finally {
    proc.kill('SIGKILL');
  }
}

const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

describe('events, whatever they hold', () => {
  it('`wait` prints each junk event as one line on stderr and still reports the end', async () => {
    const messages = [...JUNK_OBJECTS, ...NOT_OBJECTS];
    const r = await follow('wait', messages);
    // (its first line says what it waits for)
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(messages.length + 1);
    for (const line of r.stderr.split('\n').filter(Boolean)) expect(line).toContain(' followed ');
    // a time that cannot be a Date's is replaced by when the event arrived (Client's parseEvent)
    expect(r.stderr).toMatch(/\d\d:\d\d:\d\d\.\d{3} followed progress 1\n/);
    expect(r.stderr).toContain('followed two\\nlines "and\\nmore"');
    expect(r.stderr).toContain('followed raw "{\\"event\\":{\\"toString\\":1},\\"data\\":1,\\"at\\":0}"');
    expect(r.stderr).toContain('(nested deeper than 64 levels)');
    expect(r.stderr).toContain(' followed raw "42"');
    noStack(r.stderr);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'followed', state: 'END', outcome: 'succeeded' });
  });

  it('`events` prints every message as one JSON line, null and non-objects too, until the end', async () => {
    const messages = [...JUNK_OBJECTS, ...NOT_OBJECTS, 'null'];
    const r = await follow('events', messages);
    const lines = r.stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(messages.length + 1);
    const parsed = lines.map((l) => JSON.parse(l) as unknown);
    // what is not an event arrives as one, `raw`, with its text (Client's parseEvent)
    expect(parsed.at(-2)).toEqual({ event: 'raw', data: 'null', at: expect.any(Number) });
    expect(parsed.at(-1)).toMatchObject({ event: 'end' });
    expect(parsed[0]).toEqual({ event: 'progress', data: 1, at: expect.any(Number) });
    noStack(r.stderr);
    expect(r.code).toBe(0);
  });
});

describe('the end is what the hash says', () => {
  it('`events` goes on past an `end` event anyone published while the task runs, to the real end', async () => {
    const forged = '{"event":"end","data":{"id":"followed","outcome":"failed"},"at":0}';
    const r = await follow('events', [forged]);
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { event: string; data: { outcome?: string } });
    expect(lines.map((l) => [l.event, l.data.outcome])).toEqual([
      ['end', 'failed'],
      ['end', 'succeeded'],
    ]);
    expect(r.code).toBe(0);
  });
});

describe('task hashes and dead letters, whatever they hold', () => {
  it('`get` prints a task whose stored result nests deeper than the stack, cut at a marked depth', async () => {
    const prefix = `out${++prefixes}:`;
    await redis.hset(`${prefix}task-t`, { state: 'END', outcome: 'succeeded', attempt: '1', result: deep(200_000), end: '1e400' });
    const r = await runMain(['get', 't', '--key-prefix', prefix], { REDIS_URL: server.url });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const shown = JSON.parse(r.stdout) as { result: unknown; end: unknown };
    // the task is the first level, so its result shows 63 of them
    expect(JSON.stringify(shown.result)).toMatch(/^\[{63}"\(nested deeper than 64 levels\)"\]{63}$/);
  });

  it("`wait` on an ended task says why it failed on one line, whatever its stored error's message is", async () => {
    const prefix = `out${++prefixes}:`;
    const cases: [string, string][] = [
      // not an error the runtime writes: shown as stored, on one line
      ['{"message":{"toString":1}}', 'ended failed: {"message":{"toString":1}}'],
      ['{"name":"Error","message":"boom\\n    at run (/app/task.js:1:1)"}', 'ended failed: boom\\n    at run (/app/task.js:1:1)'],
      ['"just a string"', 'ended failed: "just a string"'],
      ['null', 'ended failed: null'],
    ];
    for (const [i, [error, expected]] of cases.entries()) {
      await redis.hset(`${prefix}task-f${i}`, { state: 'END', outcome: 'failed', attempt: '1', error });
      const r = await runMain(['wait', `f${i}`, '--key-prefix', prefix], { REDIS_URL: server.url });
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`task-swarm: task "f${i}" ${expected}${expected.endsWith('\n') ? '' : '\n'}`);
      expect(JSON.parse(r.stdout)).toMatchObject({ id: `f${i}`, outcome: 'failed' });
    }
  });

  it('`dead` lists letters whose time is out of range, missing or not a number, and odd fields, one line each', async () => {
    const prefix = `out${++prefixes}:`;
    const letters = [
      { reason: 'bad_json', message: 'm1', raw: 'x', at: 1e20 },
      { reason: 'bad_json', message: 'two\nlines', raw: 'x' },
      { reason: { odd: true }, message: 42, raw: 'x', at: 'yesterday', id: 'i3' },
      { reason: 'max_attempts', message: 'm4', raw: 'x', at: Date.UTC(2024, 0, 2, 3, 4, 5), id: 'i4' },
    ];
    // entries written by hand into the store, as a careless operator might (keys 1 to 4, in order)
    for (const [i, l] of letters.entries()) {
      await redis.hset(`${prefix}new-task:dead:entries`, String(i + 1), JSON.stringify(l));
      await redis.zadd(`${prefix}new-task:dead:index`, i + 1, String(i + 1));
    }
    const r = await runMain(['dead', '--key-prefix', prefix], { REDIS_URL: server.url });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.split('\n').filter(Boolean)).toEqual([
      'key 4  2024-01-02 03:04:05  max_attempts  id=i4  m4',
      'key 3  ?  unknown  id=i3  42',
      'key 2  ?  bad_json  two\\nlines',
      'key 1  ?  bad_json  m1',
    ]);
  });
});
