/**
 * Bad input gets a clear error naming what was wrong; the worker keeps running; nothing is
 * lost (parked entries land in the dead-letter list with their reason, readable via Client).
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, ConfigError, DuplicateTaskError, InvalidTaskError, ListenError, Monitor, RedisUnavailableError, StateError, TaskNotFoundError, TimeoutError, Worker, type TaskEvent } from '../src/index.js';
import { expectOneLine, runMain } from './helpers/cli.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});


async function setup(extra: Record<string, unknown> = {}) {
  const o = server.options();
  const w = new Worker({ port: 0, redis: o, ...extra });
  const c = new Client({ redis: o });
  cleanup.push(() => c.close(), () => w.stop());
  w.addTaskFunction('echo', async (t) => t.data);
  await w.start();
  const push = (raw: string) => redis.lpush(`${o.keyPrefix}new-task`, raw);
  /** a good task after the bad one proves the worker kept running */
  const stillRuns = async () => {
    const id = await c.submit('echo', 'fine');
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'fine' });
  };
  return { o, w, c, push, stillRuns };
}

describe('bad entries on new-task are parked in the dead-letter list with their reason', () => {
  const cases: [string, string, string, RegExp][] = [
    ['malformed JSON', '{"id": "x", "function": ', 'bad_json', /not a JSON object/],
    ['a JSON value that is not an object', '[1,2,3]', 'bad_json', /not a JSON object/],
    ['a missing id', '{"function":"echo","data":1}', 'missing_id', /no "id"/],
    ['a missing function', '{"id":"nofn","data":1}', 'missing_function', /task "nofn" has no "function"/],
    ['a function that is a list', '{"id":"listfn","function":["echo"]}', 'missing_function', /^task "listfn": "function" must be a non-empty string, got a list or an object$/],
    ['a function that is a number', '{"id":"numfn","function":7}', 'missing_function', /^task "numfn": "function" must be a non-empty string, got a number$/],
    ['an empty function', '{"id":"nofn2","function":""}', 'missing_function', /^task "nofn2": "function" must be a non-empty string, got ""$/],
    ['a priority that is not an integer from -1000 to 1000', '{"id":"p1","function":"echo","priority":1.5}', 'bad_option', /"priority" must be an integer from -1000 to 1000/],
    ['a group that is not a short string', `{"id":"g1","function":"echo","group":"${'g'.repeat(200)}"}`, 'bad_option', /"group" must be a string of 1 to 128 bytes/],
  ];
  for (const [what, raw, reason, message] of cases) {
    it(`${what}`, async () => {
      const { c, push, stillRuns } = await setup();
      await push(raw);
      const dead = await until(async () => (await c.deadLetters())[0], 'a dead letter');
      expect(dead).toMatchObject({ reason, raw });
      expect(dead.message).toMatch(message);
      expect(dead.code).toMatch(/^ERR_/);
      await stillRuns();
    });
  }

  it('an entry larger than maxPayloadBytes', async () => {
    const { c, push, stillRuns } = await setup({ maxPayloadBytes: 1000 });
    const raw = JSON.stringify({ id: 'big', function: 'echo', data: 'x'.repeat(2000) });
    await push(raw);
    const dead = await until(async () => (await c.deadLetters())[0], 'a dead letter');
    expect(dead).toMatchObject({ reason: 'too_large', raw });
    expect(dead.message).toMatch(/over maxPayloadBytes 1000/);
    await stillRuns();
  });

  it('an entry Redis can decode but JSON.parse cannot (NaN) is parked alone; the tasks claimed with it run', async () => {
    const { o, c } = await setup({ concurrency: 4 });
    // one push, one claim batch: before, the worker failed to parse one, started none, and the
    // monitor requeued all of them until maxAttempts
    await redis.lpush(`${o.keyPrefix}new-task`, '{"id":"ok1","function":"echo","data":1}', '{"id":"nan","function":"echo","data":NaN}', '{"id":"ok2","function":"echo","data":2}');
    for (const id of ['ok1', 'ok2']) expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
    // pushed by hand, an id the swarm never saw: parked as junk (bounded by deadLetterMax)
    expect((await c.deadLetters())[0]).toMatchObject({ reason: 'bad_json', id: 'nan', task: false, message: expect.stringContaining('NaN') });
    expect(await c.get('nan')).toBeNull();
  });

  it('an entry JSON.parse cannot read, pushed by hand under the id of a task submitted through Client (not judged strictly by the claim): parked by the worker that claims it, which runs on', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    // submitted while no worker runs: its id is in `queued`, its entry on new-task
    await c.submit('echo', 'genuine', { id: 'twice' });
    // pushed on the right, so claimed first, under the same id
    await redis.rpush(`${o.keyPrefix}new-task`, '{"id":"twice","function":"echo","data":NaN}');
    const w = new Worker({ port: 0, redis: o, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    cleanup.push(() => w.stop());
    w.addTaskFunction('echo', async (t) => t.data);
    await w.start();
    const dead = await until(async () => {
      const all = await c.deadLetters();
      return all.length === 2 ? all : undefined;
    }, 'both entries parked');
    // the forged one cannot start (the worker's JSON.parse refuses it), the genuine one then
    // finds its id taken: neither runs, neither is lost, nothing is left running
    expect(dead.map((d) => d.reason).sort()).toEqual(['duplicate', 'unrunnable']);
    expect(dead.find((d) => d.reason === 'unrunnable')?.message).toMatch(/cannot start/);
    expect(await redis.zcard(`${o.keyPrefix}tasks:leases`)).toBe(0);
    const id = await c.submit('echo', 'fine');
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'fine' });
  });

  it('numeric ids keep every digit: two 15-digit ids are two tasks; an id JSON cannot carry exactly is refused', async () => {
    const { c, push } = await setup();
    await push('{"id":123456789012345,"function":"echo","data":"a"}');
    await push('{"id":123456789012346,"function":"echo","data":"b"}');
    expect(await c.wait('123456789012345', { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'a' });
    expect(await c.wait('123456789012346', { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: 'b' });
    await push('{"id":12345678901234567890,"function":"echo"}');
    const dead = await until(async () => (await c.deadLetters())[0], 'a dead letter');
    expect(dead).toMatchObject({ reason: 'bad_id', code: 'ERR_INVALID_TASK', message: expect.stringContaining('as strings') });
  });

  it('an entry far larger than maxPayloadBytes keeps only its first 4 KB in its dead letter, and is refused a retry with the reason', async () => {
    const { c, push, stillRuns } = await setup({ maxPayloadBytes: 1000 });
    await push(JSON.stringify({ id: 'huge', function: 'echo', data: 'x'.repeat(100_000) }));
    const dead = await until(async () => (await c.deadLetters())[0], 'a dead letter');
    expect(dead).toMatchObject({ reason: 'too_large', truncated: expect.any(Number) });
    expect(dead.raw).toHaveLength(4096);
    await expect(c.retryDead(dead)).rejects.toThrow(InvalidTaskError);
    await expect(c.retryDead(dead)).rejects.toThrow(/first 4 KB .*cannot be queued again/);
    await stillRuns();
  });

  it('an entry parked for what its own bytes are (not JSON, no id, no function, an option that is none) is refused a retry, which would only park it again, and stays listed', async () => {
    const { o, c, push, stillRuns } = await setup();
    await push('{"id": "x", "function": ');
    await push('{"function":"echo"}');
    await push('{"id":"no-fn"}');
    // (a retry of it reported success, and the entry was parked again at once, under a new key)
    await push('{"id":"hp","function":"echo","priority":"high"}');
    const letters = await until(async () => {
      const l = await c.deadLetters();
      return l.length === 4 ? l : undefined;
    }, 'four dead letters');
    expect(letters.map((l) => l.reason).sort()).toEqual(['bad_json', 'bad_option', 'missing_function', 'missing_id']);
    for (const letter of letters) {
      await expect(c.retryDead(letter)).rejects.toThrow(InvalidTaskError);
      await expect(c.retryDead(letter)).rejects.toThrow(new RegExp(`dead letter ${letter.key} was parked for ${letter.reason}.*purge it`));
    }
    // nothing moved: the same three, under the same keys, none queued again
    expect((await c.deadLetters()).map((l) => l.key).sort()).toEqual(letters.map((l) => l.key).sort());
    expect(await redis.llen(`${o.keyPrefix}new-task`)).toBe(0);
    expect(await c.purgeDead(letters[0]!)).toBe(true);
    await stillRuns();
  });

  it('a duplicate of a running task id', async () => {
    const { o, w, c, push, stillRuns } = await setup();
    let release!: () => void;
    w.addTaskFunction('hold', () => new Promise((r) => (release = () => r('once'))));
    const id = await c.submit('hold');
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING');
    await push(JSON.stringify({ id, function: 'hold' }));
    const dead = await until(async () => (await c.deadLetters())[0], 'a dead letter');
    expect(dead).toMatchObject({ reason: 'duplicate', id, code: 'ERR_DUPLICATE_TASK' });
    release();
    expect((await c.wait(id, { timeout: 5000 })).result).toBe('once');
    expect(await redis.llen(`${o.keyPrefix}new-task`)).toBe(0);
    await stillRuns();
  });

  it('a task for a function no worker here has is not bad input: it waits, QUEUED, and runs once one is added', async () => {
    const { w, c } = await setup();
    const id = await c.submit('resize', { w: 10 });
    await until(async () => (await c.get(id))?.state === 'QUEUED' && (await c.stats()).functions.resize?.queued === 1, 'routed, waiting');
    expect(await c.deadLetters()).toEqual([]);
    w.addTaskFunction('resize', async (t) => t.data);
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: { w: 10 } });
  });

  it('junk is bounded: a monitor sweep keeps the newest deadLetterMax entries that hold no task, logged and counted; parked tasks stay', async () => {
    const { o, c, push, stillRuns } = await setup({ maxPayloadBytes: 1000 });
    for (let i = 1; i <= 5; i++) await push(`not json ${i}`);
    // submitted, so tasks the swarm knows, too large for this worker: parked as tasks, not junk
    for (let i = 1; i <= 2; i++) await c.submit('echo', 'x'.repeat(2000), { id: `d${i}` });
    await until(async () => (await c.deadLetters()).length === 7, 'seven dead letters');
    const warnings: string[] = [];
    const m = new Monitor({ redis: o, deadLetterMax: 3, checkTaskInterval: 50, logger: { debug() {}, info() {}, warn: (msg: unknown) => warnings.push(String(msg)), error() {} } });
    const dropped: Partial<Record<string, number>>[] = [];
    m.on('sweep', (r: { dropped?: Partial<Record<string, number>> }) => dropped.push(r.dropped ?? {}));
    cleanup.push(() => m.stop());
    await m.start();
    await until(() => dropped.length >= 2, 'two sweeps');
    const left = await c.deadLetters();
    expect(left.map((d) => d.id ?? d.raw)).toEqual(['d2', 'd1', 'not json 5', 'not json 4', 'not json 3']);
    expect(dropped.slice(0, 2)).toEqual([{ bad_json: 2 }, {}]); // the oldest two junk entries, once
    expect(await redis.hget(`${o.keyPrefix}new-task:dead:stats`, 'dropped:bad_json')).toBe('2');
    expect(warnings.filter((w) => w.includes('dead-letter retention'))).toEqual([expect.stringMatching(/\(deadLetterMax 3, .*\) dropped 2 bad_json$/)]);
    await stillRuns();
  });

  it('parked tasks are dropped only by the retention the user chose (deadLetterRetention), their hash with them', async () => {
    // submitted (so tasks the swarm knows), too large for this worker: parked as tasks
    const { o, c } = await setup({ maxPayloadBytes: 1000 });
    await c.submit('echo', 'x'.repeat(2000), { id: 'old' });
    await until(async () => (await c.get('old'))?.parked, 'parked');
    await new Promise((r) => setTimeout(r, 1200));
    await c.submit('echo', 'x'.repeat(2000), { id: 'new' });
    await until(async () => (await c.get('new'))?.parked, 'parked');
    const m = new Monitor({ redis: o, deadLetterRetention: 800, checkTaskInterval: 50 });
    const dropped: Partial<Record<string, number>>[] = [];
    m.on('sweep', (r: { dropped?: Partial<Record<string, number>> }) => dropped.push(r.dropped ?? {}));
    cleanup.push(() => m.stop());
    await m.start();
    await until(() => dropped.some((d) => d.too_large), 'a drop');
    expect(await c.get('old')).toBeNull();
    expect((await c.deadLetters()).map((d) => d.id)).toContain('new');
  });
});

describe('Client.submit refuses bad input with a typed error', () => {
  it('a duplicate id is refused while the task is queued, running or retained', async () => {
    const { c } = await setup();
    await c.submit('echo', 1, { id: 'dup' });
    await expect(c.submit('echo', 2, { id: 'dup' })).rejects.toThrow(DuplicateTaskError);
    await c.wait('dup', { timeout: 5000 });
    await expect(c.submit('echo', 3, { id: 'dup' })).rejects.toMatchObject({ code: 'ERR_DUPLICATE_TASK', message: expect.stringContaining('"dup"') });
  });

  it('the same task submitted again with another due time is the same submission: it keeps its first due time (docs/semantics.md)', async () => {
    const { c } = await setup();
    await c.submit('echo', 1, { id: 'later', delay: 60_000 });
    const first = await c.get('later');
    expect(await c.submit('echo', 1, { id: 'later' })).toBe('later');
    expect(await c.submit('echo', 1, { id: 'later', runAt: Date.now() + 600_000 })).toBe('later');
    expect(await c.get('later')).toMatchObject({ state: 'DELAYED', runAt: first!.runAt });
  });

  it('a missing function name or unserialisable data', async () => {
    const { c } = await setup();
    await expect(c.submit('', 1)).rejects.toThrow(InvalidTaskError);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(c.submit('echo', circular)).rejects.toThrow(/not JSON-serialisable/);
  });

  it('data JSON would drop without a word (a function, a Symbol) is refused, not stored as no data', async () => {
    const { o, c } = await setup();
    await expect(c.submit('echo', () => 1, { id: 'fn-data' })).rejects.toThrow(/data of task "fn-data" is a function, which JSON cannot carry/);
    await expect(c.submit('echo', Symbol('s'))).rejects.toBeInstanceOf(InvalidTaskError);
    await expect(c.submitMany([{ fn: 'echo', data: 1 }, { fn: 'echo', data: Symbol('s') }])).rejects.toThrow(/is a Symbol, which JSON cannot carry/);
    // (JSON writes these as null: the task would get null where a number was given)
    await expect(c.submit('echo', NaN, { id: 'nan-data' })).rejects.toThrow(/data of task "nan-data" is the number NaN, which JSON cannot carry/);
    await expect(c.submit('echo', -Infinity)).rejects.toBeInstanceOf(InvalidTaskError);
    await expect(c.control('x', { event_name: 'e', event: Infinity })).rejects.toThrow(/control "e": its event is the number Infinity, which JSON cannot carry/);
    expect(await redis.keys(`${o.keyPrefix}task-*`)).toEqual([]);
    // no data at all is still no data
    const id = await c.submit('echo', undefined);
    expect(await c.wait(id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded', result: null });
  });

  it('a malformed control message from the client', async () => {
    const { c } = await setup();
    await expect(c.control('x', 'pause' as never)).rejects.toThrow(InvalidTaskError);
    await expect(c.control('x', { event: 1 } as never)).rejects.toThrow(/event_name/);
    await expect(c.control('x', { event_name: 'e', event: () => 1 })).rejects.toThrow(/control "e": its event is a function, which JSON cannot carry/);
    await expect(c.control('x', { event_name: 'e', event: 1n })).rejects.toThrow(InvalidTaskError);
  });
});

describe('a control message for a task Redis does not know', () => {
  it('is a TaskNotFoundError, as a cancel is; a queued task still takes one', async () => {
    const { o, c } = await setup();
    await expect(c.control('nosuch', 'stop')).rejects.toBeInstanceOf(TaskNotFoundError);
    await expect(c.control('nosuch', { event_name: 'e' })).rejects.toThrow('no task with id "nosuch"');
    await expect(c.cancel('nosuch')).rejects.toBeInstanceOf(TaskNotFoundError);
    const id = await c.submit('nobody-runs-this');
    await expect(c.control(id, 'stop')).resolves.toBe('waiting');
    const r = await runMain(['control', 'nosuch', 'stop', '--key-prefix', o.keyPrefix], { REDIS_URL: server.url });
    expectOneLine(r, r.code, /no task with id "nosuch"/);
    expect(r.code).not.toBe(0);
  });
});

describe('a worker started with no task function', () => {
  it('says so once: it would run, count for its peers and take nothing', async () => {
    const warnings: string[] = [];
    const w = new Worker({ port: 0, redis: server.options(), logger: { debug() {}, info() {}, warn: (m: string) => warnings.push(m), error() {} } });
    cleanup.push(() => w.stop());
    await w.start();
    expect(warnings.filter((m) => /no task function/.test(m))).toEqual(['no task function added yet: this worker claims no task until one is (addTaskFunction)']);
  });
});

describe('a task id holding a quote or a line break', () => {
  // an id is any non-empty string: every message that names one keeps it quoted and on one line
  const odd = 'a"b\nc\u2028d';
  const shown = 'a\\"b\\nc\\u2028d"';
  it('is shown escaped by every error that names it, and by the CLI on one line', async () => {
    const { o, c } = await setup();
    await c.submit('echo', undefined, { id: odd, delay: 60_000 });
    const refused = (p: Promise<unknown>) => p.then(() => new Error('not refused'), (e: Error) => e);
    const errors = [
      await refused(c.cancel('x' + odd)),
      await refused(c.control('x' + odd, 'stop')),
      await refused(c.wait('x' + odd, { timeout: 50 })),
      await refused(c.submit('echo', 'other data', { id: odd })),
    ];
    expect(errors.map((e) => e.constructor)).toEqual([TaskNotFoundError, TaskNotFoundError, TimeoutError, DuplicateTaskError]);
    for (const e of errors) {
      expect(e.message).toContain(shown);
      expect(e.message).not.toMatch(/[\n\u2028]/);
    }
    const r = await runMain(['get', 'b"\nno task with id "forged"', '--key-prefix', o.keyPrefix], { REDIS_URL: server.url });
    expectOneLine(r, r.code, /no task with id "b\\"\\nno task with id \\"forged\\""/);
  });
});

describe('a malformed control message on the channel', () => {
  it('is reported on the task events as control-error and the task goes on', async () => {
    const { o, w, c } = await setup();
    let release!: () => void;
    w.addTaskFunction('hold', () => new Promise((r) => (release = () => r('ok'))));
    const id = await c.submit('hold');
    const events: TaskEvent[] = [];
    c.subscribe(id, (e) => events.push(e));
    await until(async () => (await c.get(id))?.state === 'RUNNING', 'RUNNING');
    // (an event published before the subscription is live is gone: pub/sub keeps nothing)
    await until(async () => Number(((await redis.pubsub('NUMSUB', `${o.keyPrefix}task-${id}-events`)) as [string, number])[1]) >= 1, 'the client subscribed');
    await redis.publish(`${o.keyPrefix}task-${id}-control`, '{"event": "no name"}');
    await redis.publish(`${o.keyPrefix}task-${id}-control`, 'explode');
    await until(() => events.filter((e) => e.event === 'control-error').length === 2, 'two control-error events');
    expect((events[0]!.data as { message: string }).message).toMatch(/event_name/);
    expect((events[1]!.data as { message: string }).message).toMatch(/neither "stop", "reload" nor JSON/);
    release();
    expect((await c.wait(id, { timeout: 5000 })).outcome).toBe('succeeded');
  });
});

function cycle(): object {
  const o: Record<string, unknown> = {};
  o.self = o;
  return o;
}

describe('invalid configuration', () => {
  const bad: [string, () => unknown, RegExp][] = [
    ['a key name inside the task prefix', () => new Client({ redis: { newQueue: 'task-queue' } }), /redis\.newQueue \("task-queue"\) must not start with redis\.taskPrefix \("task-"\): it would be the key of the task "queue"/],
    ['an empty task prefix', () => new Worker({ redis: { taskPrefix: '' } }), /redis\.taskPrefix must not be empty/],
    // (the lease index "tasks:leases" was then the hash of the task "leases": its submit a WRONGTYPE from Redis, and a task "outage" written before the runtime's key of that name)
    ['a task prefix inside the names under another key', () => new Client({ redis: { taskPrefix: 'tasks:' } }), /redis\.taskPrefix \("tasks:"\) must not start with redis\.taskSet and a colon \("tasks:"\): the runtime's keys named "tasks:\.\.\." \(its lease index "tasks:leases" among them\) would be the keys of tasks/],
    // (each is a key of its own kind: one name for two, the queue's list was the claimed set, and every claim failed WRONGTYPE)
    ['two key names the same', () => new Worker({ redis: { newQueue: 'jobs', taskSet: 'jobs' } }), /redis\.taskSet \("jobs"\) must differ from redis\.newQueue \("jobs"\), and not start with it and a colon: the two would share keys/],
    ['a key name under another', () => new Client({ redis: { taskSet: 'new-task:queued' } }), /redis\.taskSet \("new-task:queued"\) must differ from redis\.newQueue \("new-task"\), and not start with it and a colon/],
    ['a task prefix inside the queue\'s names', () => new Monitor({ redis: { taskPrefix: 'new-task:dead:' } }), /redis\.taskPrefix \("new-task:dead:"\) must not start with redis\.newQueue and a colon/],
    ['a negative interval', () => new Worker({ fetchTaskInterval: -5 }), /Worker\.fetchTaskInterval must be >= 1, got -5/],
    ['a percentage over 100', () => new Worker({ partitionPercentage: 120 }), /Worker\.partitionPercentage must be between 0 and 100, got 120/],
    ['a percentage below 0', () => new Monitor({ partitionPercentage: -1 }), /Monitor\.partitionPercentage must be between 0 and 100/],
    ['a non-integer concurrency', () => new Worker({ concurrency: 2.5 }), /Worker\.concurrency must be an integer/],
    ['an unknown option (typo)', () => new Worker({ concurency: 5 } as never), /unknown option "concurency"/],
    ['a bad Redis port', () => new Client({ redis: { port: 70000 } }), /redis\.port must be a port number/],
    ['a wrong type', () => new Monitor({ taskTimeout: '30s' as never }), /Monitor\.taskTimeout must be an integer, got "30s"/],
    // (the refusal wrote the value with JSON.stringify, which threw its own TypeError for a BigInt or a cycle, and wrote NaN as null)
    ['a BigInt where a number goes', () => new Worker({ port: 8080n as never }), /Worker\.port must be an integer, got 8080n/],
    ['NaN where a number goes', () => new Worker({ concurrency: NaN }), /Worker\.concurrency must be an integer, got NaN/],
    ['a BigInt as the Redis port', () => new Client({ redis: { port: 6379n as never } }), /redis\.port must be an integer, got 6379n/],
    ['a cycle as the host', () => new Worker({ host: cycle() as never }), /Worker\.host must be a string, got an object JSON cannot write/],
    ['a BigInt as a sentinel\'s port', () => new Client({ redis: { sentinels: [{ host: 'h', port: 26379n as never }], name: 'm' } }), /redis\.sentinels\[0\]\.port must be a port number 1-65535, got 26379n/],
  ];
  for (const [what, make, message] of bad) {
    it(`${what} throws a ConfigError naming the option`, () => {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(message);
    });
  }

  it('an unreachable Redis makes start() reject with one error naming the server', async () => {
    const w = new Worker({ port: 0, redis: { port: 1 } });
    const m = new Monitor({ redis: { url: 'redis://user:secret@127.0.0.1:1/0' } });
    for (const [what, start] of [
      ['worker', () => w.start()],
      ['monitor', () => m.start()],
    ] as const) {
      const err = await start().catch((e) => e);
      expect(err, what).toBeInstanceOf(RedisUnavailableError);
      expect(err.message, what).toMatch(/^cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/?0?: connect ECONNREFUSED/);
      expect(err.message, what).not.toContain('secret');
      // (caused by the socket's error: not ioredis's "Refer to maxRetriesPerRequest", an option nobody sets)
      expect(err.cause, what).toMatchObject({ code: 'ECONNREFUSED' });
    }
  });

  it('start() again, on a worker or monitor that stopped or failed to start, says to make a new one', async () => {
    const failed = new Worker({ port: 0, redis: { port: 1 } });
    await failed.start().catch(() => {});
    const stopped = new Worker({ port: 0, redis: server.options() });
    await stopped.start();
    await stopped.stop();
    const monitor = new Monitor({ redis: server.options() });
    await monitor.start();
    await monitor.stop();
    for (const [what, p, name] of [
      ['a worker whose start failed', failed, 'Worker'],
      ['a stopped worker', stopped, 'Worker'],
      ['a stopped monitor', monitor, 'Monitor'],
    ] as const) {
      const err = await p.start().catch((e: unknown) => e);
      expect(err, what).toBeInstanceOf(StateError);
      expect((err as Error).message, what).toMatch(new RegExp(`has stopped \\(or failed to start\\), and does not start again: make a new ${name}$`));
    }
  });

  it('a port already in use makes start() reject with a ListenError, and the process goes on', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const w = new Worker({ port, redis: server.options() });
      const err = await w.start().catch((e) => e);
      expect(err).toBeInstanceOf(ListenError);
      expect(err.message).toBe(`cannot listen on 127.0.0.1:${port} for peer pings: port already in use`);
      expect(w.state).toBe('failed');
    } finally {
      blocker.close();
    }
  });

  it('port and metricsPort the same: start() names the clash, not only a port in use', async () => {
    const free = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as { port: number }).port;
    await new Promise<void>((r) => free.close(() => r()));
    const w = new Worker({ port, metricsPort: port, redis: server.options() });
    const err = await w.start().catch((e) => e);
    expect(err).toBeInstanceOf(ListenError);
    expect(err.message).toBe(`cannot listen on 127.0.0.1:${port} for peer pings: port already in use: this worker's own metrics server listens there (metricsPort is ${port} too); give each a port of its own`);
    // (and it lets the port go: a start with a port of each serves)
    const again = new Worker({ port, metricsPort: 0, redis: server.options() });
    await again.start();
    await again.stop();
  });
});
