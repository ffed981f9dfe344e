/**
 * Every entry a producer can push, generated: healthy tasks and every kind of bad entry, above
 * all the forms Redis's JSON decoder (cjson) accepts and JSON.parse refuses (NaN, Infinity, hex,
 * +1, 01, 1., raw control characters inside strings), and those cjson refuses and JSON.parse
 * accepts (a lone surrogate escape, nesting past 1000). Pushed in random order onto the seed's
 * queue, to a real worker on a real Redis.
 *
 * The class this guards (issue 7, item 1): the script and the runtime must agree on what a valid
 * entry is, and a failure to take one claimed task must never touch the others. So: every
 * healthy task runs exactly once and ends succeeded with its data; every bad entry is parked
 * once, with its reason, and a bad entry that names an id records it on that task (get says END,
 * parked); a task for a function no worker serves waits, QUEUED, unparked; nothing is left
 * claimed, and no task is parked as "its worker died each time".
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, Worker } from '../../src/index.js';
import { taskData } from '../../src/wire.js';
import { buildSubmission, MAX_TIMER_MS } from '../../src/submission.js';
import { ConfigError } from '../../src/errors.js';
import { startRedis, until, type RedisServer } from '../helpers/redis-server.js';

let server: RedisServer;
let redis: Redis;
let worker: Worker;
let client: Client;
let prefix = '';
const runs = new Map<string, number>();

beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  const o = server.options();
  prefix = o.keyPrefix;
  worker = new Worker({ port: 0, redis: o, concurrency: 4, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  worker.addTaskFunction('echo', (t) => {
    runs.set(t.id, (runs.get(t.id) ?? 0) + 1);
    return t.data;
  });
  await worker.start();
  client = new Client({ redis: o });
});

afterAll(async () => {
  await worker?.stop();
  await client?.close();
  await server?.stop();
});

type Expect =
  /** runs once, ends succeeded with this data */
  | { kind: 'healthy'; id: string; data: unknown }
  /**
   * parked with this reason; `record`: the parking is recorded on the task `id`; `names`: a
   * word its message must hold (the option it refuses)
   */
  | { kind: 'parked'; reason: string; id?: string; record: boolean; names?: string }
  /** a valid task for a function no worker serves: it waits, QUEUED, for one that does */
  | { kind: 'waiting'; id: string; fn: string };
interface Entry {
  raw: string;
  expect: Expect;
  /** submitted through Client (a task the swarm knows) rather than pushed by hand */
  submitted?: { fn: string; id: string; data: unknown };
}

/**
 * An entry pushed by hand that the worker must park, for `reason`. Its id (if any) is one the
 * swarm never saw, so it is junk, its id for information only: get(id) knows nothing of it.
 */
const parkedEntry = (raw: string, reason: string, id?: string): Entry => ({ raw, expect: { kind: 'parked', reason, id, record: false } });

let seq = 0;
const nextId = () => `e${++seq}`;
/** an integer id of 15+ digits, unique: the digits must survive the trip exactly */
const bigId = () => 123456789012345 + ++seq * 7;

/** JSON text with `token` as the value of "data" (spliced in: JSON.stringify cannot write it) */
const withData = (id: string, token: string) => `{"id":${JSON.stringify(id)},"function":"echo","data":${token}}`;

const LENIENT_TOKENS = ['NaN', 'Infinity', '-Infinity', '0x1F', '+1', '01', '-01', '1.', '1.e5', '[1,NaN]', '{"x":Infinity}'];
const RAW_CONTROL = ['\u0001', '\t', '\n', '\r', '\u001f'];

const healthy: fc.Arbitrary<() => Entry> = fc
  .record({ data: fc.jsonValue({ maxDepth: 3 }), numeric: fc.boolean(), pretty: fc.boolean(), key: fc.string({ maxLength: 6 }) })
  .map(({ data, numeric, pretty, key }) => (): Entry => {
    // (the separator keeps these ids apart from the plain `e<n>` ids of the junk)
    const id: string | number = numeric ? bigId() : `${nextId()}~${key}`;
    const entry = { id, function: 'echo', data };
    return {
      raw: pretty ? JSON.stringify(entry, null, 2) : JSON.stringify(entry),
      // what the function sees: a `data` that is a JSON string is parsed (the seed's form)
      expect: { kind: 'healthy', id: String(id), data: taskData({ data: JSON.parse(JSON.stringify(data ?? null)) }) },
    };
  });

/** accepted by cjson, refused by JSON.parse: parked as bad_json, recorded on its id */
const lenient: fc.Arbitrary<() => Entry> = fc.oneof(
  fc.constantFrom(...LENIENT_TOKENS).map((token) => () => {
    const id = nextId();
    return parkedEntry(withData(id, token), 'bad_json', id);
  }),
  fc.record({ c: fc.constantFrom(...RAW_CONTROL), a: fc.string({ maxLength: 4 }) }).map(({ c, a }) => () => {
    const id = nextId();
    const plain = [...a].filter((ch) => ch >= ' ' && ch !== '"' && ch !== '\\').join('');
    return parkedEntry(withData(id, `"${plain}${c}x"`), 'bad_json', id);
  }),
);

/** refused by cjson (or not an object, or no task at all): parked as junk */
const junk: fc.Arbitrary<() => Entry> = fc.oneof(
  fc.constantFrom('not json', '[1,2,3]', '"a string"', '42', 'null', '{"id":"x",', '{}x', ' ').map((raw) => () => parkedEntry(raw, 'bad_json')),
  // JSON.parse accepts these; cjson does not: refused in the script, for a stated reason
  fc.constant(() => parkedEntry(withData(nextId(), '"\\ud800"'), 'bad_json')),
  // a raw NUL inside a string: cjson refuses it too
  fc.constant(() => parkedEntry(withData(nextId(), '"a\u0000b"'), 'bad_json')),
  fc.constant(() => parkedEntry(withData(nextId(), `${'['.repeat(1100)}${']'.repeat(1100)}`), 'bad_json')),
);

const badIds: fc.Arbitrary<() => Entry> = fc.oneof(
  fc.constantFrom('1.5', '1e20', '-9007199254740993', 'true', '{}', '[]', `"${'x'.repeat(600)}"`).map((id) => () => parkedEntry(`{"id":${id},"function":"echo"}`, 'bad_id')),
  fc.constantFrom('null', '""').map((id) => () => parkedEntry(`{"id":${id},"function":"echo"}`, 'missing_id')),
  fc.constant(() => parkedEntry('{"function":"echo"}', 'missing_id')),
);

const noRun: fc.Arbitrary<() => Entry> = fc.oneof(
  // submitted for a function no worker has: it waits for one (issue 9), parked by nobody
  fc.constant((): Entry => {
    const id = nextId();
    return { raw: JSON.stringify({ id, function: 'nope', data: null }), expect: { kind: 'waiting', id, fn: 'nope' }, submitted: { fn: 'nope', id, data: null } };
  }),
  fc.constant(() => {
    const id = nextId();
    return parkedEntry(JSON.stringify({ id, data: 1 }), 'missing_function', id);
  }),
  fc.constant((): Entry => {
    const id = nextId();
    return { raw: JSON.stringify({ id, function: 'nope' }), expect: { kind: 'waiting', id, fn: 'nope' } };
  }),
);

/**
 * `attempts`, `backoff` and `timeout` written by hand: claim.lua must judge them exactly as
 * Client.submit does (src/submission.ts is the oracle). Refused: parked as bad_option, naming
 * the option; accepted: a healthy task. (Valid timeouts here are long: echo is done well within.)
 */
const MS = [0, 100, -1, 1.5, MAX_TIMER_MS, MAX_TIMER_MS + 1, '100', null, true, [], {}];
const timeOptions: fc.Arbitrary<() => Entry> = fc
  .record(
    {
      attempts: fc.constantFrom(0, 1, 2, 1000, 1001, -1, 1.5, '3', null, true, [2]),
      backoff: fc.oneof(
        fc.constantFrom(...MS),
        fc.record(
          {
            type: fc.constantFrom('fixed', 'exponential', 'linear', null, 1),
            delay: fc.constantFrom(...MS),
            jitter: fc.constantFrom(0, 0.5, 1, 1.5, -0.1, null, '0.5'),
            max: fc.constantFrom(...MS),
            extra: fc.constant(1),
          },
          { requiredKeys: [] },
        ),
      ),
      timeout: fc.constantFrom(0, 1.5, -1, 60_000, MAX_TIMER_MS, MAX_TIMER_MS + 1, '5000', null, false, {}),
    },
    { requiredKeys: [] },
  )
  .map((options) => (): Entry => {
    const id = `${nextId()}~t`;
    const raw = JSON.stringify({ id, function: 'echo', data: id, ...options });
    let refused: string | undefined;
    try {
      buildSubmission('echo', id, options as never);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      refused = /: (attempts|backoff|timeout)\b/.exec(e.message)?.[1];
      if (!refused) throw new Error(`unexpected refusal: ${e.message}`);
    }
    if (refused) return { raw, expect: { kind: 'parked', reason: 'bad_option', id, record: false, names: refused } };
    return { raw, expect: { kind: 'healthy', id, data: id } };
  });

const batch = fc.array(
  fc.oneof({ weight: 5, arbitrary: healthy }, { weight: 3, arbitrary: lenient }, { weight: 1, arbitrary: junk }, { weight: 1, arbitrary: badIds }, { weight: 1, arbitrary: noRun }, { weight: 2, arbitrary: timeOptions }),
  { minLength: 1, maxLength: 24 },
);

describe('generated entries through claim, run and end on a real worker', () => {
  it('every healthy task ends exactly once; every bad entry is parked once, alone, for its reason', async () => {
    await fc.assert(
      fc.asyncProperty(batch, async (makers) => {
        const entries = makers.map((m) => m());
        const deadBefore = await client.stats().then((s) => s.dead);
        // the submitted ones first, then one LPUSH of the rest: claimed in the same batches
        for (const e of entries) if (e.submitted) await client.submit(e.submitted.fn, e.submitted.data, { id: e.submitted.id });
        const pushed = entries.filter((e) => !e.submitted).map((e) => e.raw);
        if (pushed.length) await redis.lpush(`${prefix}new-task`, ...pushed);
        const good = entries.flatMap((e) => (e.expect.kind === 'healthy' ? [e.expect] : []));
        const waiting = entries.flatMap((e) => (e.expect.kind === 'waiting' ? [e.expect] : []));
        const bad = entries.length - good.length - waiting.length;
        await until(
          async () =>
            (await redis.llen(`${prefix}new-task`)) === 0 &&
            (await client.stats()).dead === deadBefore + bad &&
            (await Promise.all(good.map((g) => client.get(g.id)))).every((t) => t?.state === 'END'),
          'every entry taken',
          15_000,
        );
        for (const g of good) {
          const t = await client.get(g.id);
          expect(t, `task ${g.id}`).toMatchObject({ state: 'END', outcome: 'succeeded', attempt: 1 });
          expect(t!.result, `task ${g.id}: its data back`).toEqual(g.data);
          expect(runs.get(g.id), `task ${g.id}: runs`).toBe(1);
        }
        for (const w of waiting) expect(await client.get(w.id), `task ${w.id} for unserved ${w.fn}`).toMatchObject({ state: 'QUEUED', function: w.fn });
        const letters = (await client.deadLetters({ limit: bad })).reverse(); // oldest first
        for (const e of entries) {
          if (e.expect.kind !== 'parked') continue;
          const { reason, id, record } = e.expect;
          const found = letters.filter((l) => l.raw === e.raw);
          const pushed = entries.filter((x) => x.raw === e.raw).length; // the same junk may come twice
          expect(found, `one dead letter for each ${JSON.stringify(e.raw.slice(0, 60))}`).toHaveLength(pushed);
          expect(found[0], `dead letter of ${JSON.stringify(e.raw.slice(0, 60))}`).toMatchObject({ reason, task: record });
          if (e.expect.names) expect(found[0]!.message, `dead letter of ${e.raw}`).toContain(e.expect.names);
          if (record) expect(await client.get(id!), `parked task ${id}`).toMatchObject({ state: 'END', outcome: 'failed', parked: { reason, key: found[0]!.key } });
          else if (id !== undefined) expect(await client.get(id), `junk with the id ${id}: no task of it`).toBeNull();
        }
        // nothing left claimed, nothing parked as if its worker had died
        expect(await redis.zcard(`${prefix}tasks:leases`)).toBe(0);
        expect(letters.filter((l) => l.reason === 'max_attempts' || l.reason === 'unrunnable')).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});
