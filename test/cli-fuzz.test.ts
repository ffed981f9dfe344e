/**
 * The command line, fuzzed: generated argv from the commands' vocabulary (every option of every
 * command, with valid and junk values, unknown and repeated flags, `--` separators, junk
 * positionals), run in-process through `main` against a private redis-server, some with an
 * unreachable Redis. Whatever the argv, the command returns in bounded time with exit status
 * 0, 1 or 2; a failure is exactly one line `task-swarm: ...` on stderr, its last; no stack, no
 * "unexpected error" (that is a bug's message, not a user's mistake). A few samples run again
 * as real processes to show the bin wrapper does the same.
 *
 * Nothing generated may run forever, so: a worker or monitor never gets a reachable Redis (it
 * fails at the connection check, however valid the rest); `wait`, `events` and `submit --wait`
 * either end with a short `--timeout` (`--wait-timeout`) given last, or name a task that has ended or does not
 * exist, in a namespace nothing writes to.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MONITOR_FIELDS, WORKER_FIELDS } from '../src/config.js';
import { runMain, runProcess, type CliRun } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const RUNS = Number(process.env.CLI_FUZZ_RUNS ?? 300);
const UNREACHABLE = 'redis://127.0.0.1:1';
const SHORT_TIMEOUT = '--timeout=50';
/** the same, for `submit --wait` (its --timeout is the task's) */
const SHORT_WAIT = '--wait-timeout=50';
/** a namespace with fixed tasks, which no generated command writes to when it could wait */
const SEEDED = 'seeded:';

let server: RedisServer;
let redis: Redis;
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-cli-fuzz-'));
let runs = 0;
beforeAll(async () => {
  server = await startRedis();
  redis = server.client();
  writeFileSync(join(dir, 'tasks.mjs'), 'export function noop() { return 1; }\n');
  writeFileSync(join(dir, 'no-functions.mjs'), 'export const answer = 42;\n');
  writeFileSync(join(dir, 'throws.mjs'), 'throw new Error("module failed\\n  at line 2");\n');
  writeFileSync(join(dir, 'empty'), '');
  mkdirSync(join(dir, 'a-dir'));
  await redis.hset(`${SEEDED}task-done`, { state: 'END', outcome: 'succeeded', attempt: '1', result: '{"ok":true}', end: String(Date.now()) });
  await redis.hset(`${SEEDED}task-broke`, { state: 'END', outcome: 'failed', attempt: '1', error: '{"name":"Error","message":"it broke\\n  at x"}' });
  await redis.hset(`${SEEDED}task-live`, { state: 'RUNNING', attempt: '1', worker: '127.0.0.1:1', function: 'f' });
});
afterAll(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

// ------------------------------------------------------------------------------ vocabulary

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const junkText = fc.oneof(
  fc.constantFrom('', ' ', '-', '--', '-x', '-1', '=', 'a\nb', '\t', '🦄', 'ünïcödé', '\u202eevil', 'null', '{}', '[]', '{"a":', '"s"', 'constructor', '__proto__', 'toString'),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);
const junkNumber = fc.oneof(
  fc.constantFrom('0', '1', '7', '100', '65535', '65536', '-1', '-0', 'NaN', 'Infinity', '1e3', '0x10', '1.5', ' 7 ', '2147483647', '2147483648', '9007199254740993', '99999999999999999999'),
  fc.integer().map(String),
  fc.double().map(String),
  fc.bigInt().map(String),
);
const junkJson = fc.oneof(
  fc.constantFrom('{"event_name":"x","event":1}', '{"event_name":""}', '{"event_name":1}', 'stop', 'reload', '{nope', '[1,', '1e999', '"\\ud800"', '{"__proto__":{"x":1}}'),
  fc.json(),
  junkText,
);
/** mostly a number a user would type, sometimes junk */
const number = fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 100_000 }).map(String) }, { weight: 1, arbitrary: junkNumber });
const FIELD_KINDS = { ...WORKER_FIELDS, ...MONITOR_FIELDS } as Record<string, { kind: string }>;
const fieldValue = (key: string) => (FIELD_KINDS[key]!.kind === 'string' ? fc.oneof(fc.constantFrom('127.0.0.1', 'host:1', '0.0.0.0', 'h:99999', 'h'), junkText) : number);

/** Values for the options that name a Redis: a worker or monitor never gets the real one. */
const redisUrl = (reachable: boolean) =>
  fc.oneof(
    fc.constantFrom(UNREACHABLE, 'redis://:pw@127.0.0.1:1', 'redis://u:p@[::1]:1/0', 'http://127.0.0.1:1', 'redis://', 'redis://127.0.0.1:99999', 'rediss://127.0.0.1:1', 'redis://127.0.0.1:1/x?password=p'),
    ...(reachable ? [fc.constant(server.url)] : []),
    junkText,
  );
const path = () => fc.oneof(fc.constantFrom(join(dir, 'no-such-file'), join(dir, 'empty'), join(dir, 'a-dir'), join(dir, 'tasks.mjs')), junkText.map((s) => join(dir, 'x', s)));
const modulePath = () => fc.constantFrom(join(dir, 'tasks.mjs'), join(dir, 'no-functions.mjs'), join(dir, 'throws.mjs'), join(dir, 'no-such-module.mjs'), join(dir, 'empty'), join(dir, 'tasks.txt'));

type Values = Record<string, fc.Arbitrary<string> | null>; // null: a boolean flag

function globalOptions(reachable: boolean, keys: boolean): Values {
  const names: Values = keys ? { '--key-prefix': junkText, '--task-prefix': junkText } : {};
  return {
    '--redis-url': redisUrl(reachable),
    '--redis-password-file': path(),
    ...names,
    '--new-queue': junkText,
    '--task-set': junkText,
    '--end-queue': junkText,
    '--worker-set': junkText,
    '--help': null,
    '-h': null,
    '--version': null,
  };
}

const SECRETS: Values = { '--secret': junkText, '--secret-file': path(), '--log': fc.oneof(fc.constantFrom('debug', 'info', 'warn', 'error', 'silent', 'SILENT', 'loud'), junkText) };
const fields = (f: object): Values => Object.fromEntries(Object.keys(f).map((k) => [`--${kebab(k)}`, fieldValue(k)]));

const COMMAND_OPTIONS: Record<string, Values> = {
  worker: { '--functions': modulePath(), '-f': modulePath(), ...fields(WORKER_FIELDS), ...SECRETS },
  monitor: { ...fields(MONITOR_FIELDS), ...SECRETS },
  submit: { '--id': junkText, '--manual-end': null, '--wait': null, '--wait-timeout': number, '--timeout': number, '--attempts': number, '--backoff': junkText, '--delay': number, '--run-at': junkText, '--key': junkText },
  get: {},
  wait: { '--timeout': number },
  control: {},
  events: { '--timeout': number },
  dead: { '--limit': number, '--json': null },
  'retry-dead': {},
  'purge-dead': {},
  cancel: {},
  status: { '--json': null },
};
const COMMANDS = Object.keys(COMMAND_OPTIONS);
/** every option of every command, for giving one to a command it does not apply to */
const ANY_OPTION: Values = Object.assign({}, ...Object.values(COMMAND_OPTIONS)) as Values;

/** One option as argv tokens: `--name value` or `--name=value`, a boolean; junk when `messy`. */
function optionTokens(values: Values, messy: boolean): fc.Arbitrary<string[]> {
  const named = Object.entries(values).map(([name, value]) =>
    value === null
      ? messy
        ? fc.constantFrom<string[]>([name], [`${name}=x`], [`${name}=`])
        : fc.constant<string[]>([name])
      : fc.oneof(
          value.map((v) => [name, v]),
          value.map((v) => [`${name}=${v}`]),
        ),
  );
  if (!messy) return fc.oneof(...named);
  return fc.oneof(
    { weight: 6, arbitrary: fc.oneof(...named) },
    { weight: 1, arbitrary: fc.constantFrom<string[]>(['--bogus'], ['-x'], ['-hx'], ['---'], ['--=x'], ['-'], ['--'], ['--Timeout', '5'], ['--redis-url']) },
  );
}

/**
 * Tokens after the command. Tidy: some of its own options (not help, which ends it at once).
 * Messy: any option of any command, junk flags, `--`, junk positionals, in any order.
 */
function tail(command: string, reachable: boolean, keys: boolean): fc.Arbitrary<string[]> {
  const own = { ...globalOptions(reachable, keys), ...(Object.hasOwn(COMMAND_OPTIONS, command) ? COMMAND_OPTIONS[command] : {}) };
  const tidy = Object.fromEntries(Object.entries(own).filter(([name]) => !['--help', '-h', '--version', '--redis-url', '--redis-password-file'].includes(name)));
  const messy = fc.oneof(
    { weight: 6, arbitrary: optionTokens(own, true) },
    { weight: 1, arbitrary: optionTokens(keys ? ANY_OPTION : { '--json': null, '--limit': junkNumber }, true) },
    { weight: 2, arbitrary: junkJson.map((t) => [t]) },
  );
  return fc
    .oneof({ weight: 3, arbitrary: fc.array(optionTokens(tidy, false), { maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(messy, { maxLength: 6 }) })
    .map((groups) => groups.flat());
}

const positionalsOf: Record<string, fc.Arbitrary<string[]>> = {
  worker: fc.option(modulePath(), { freq: 8, nil: undefined }).map((m) => (m === undefined ? [] : ['--functions', m])),
  submit: fc.tuple(fc.oneof(fc.constantFrom('f', 'noop'), junkText), fc.option(junkJson, { nil: undefined })).map(([f, d]) => (d === undefined ? [f] : [f, d])),
  get: fc.oneof(fc.constantFrom('done', 'broke', 'live', 'absent'), junkText).map((id) => [id]),
  control: fc.tuple(fc.oneof(fc.constantFrom('live', 'done', 'absent'), junkText), junkJson).map(([id, m]) => [id, m]),
  'retry-dead': junkNumber.map((n) => [n]),
  'purge-dead': junkNumber.map((n) => [n]),
};

interface Case {
  argv: string[];
  env: Record<string, string>;
}

/** Commands that could wait: a short --timeout last (it wins), or a task that ends at once. */
const waiting = fc.oneof(
  // (an id of '--' would end the options: the short timeout after it would be the task's id, and
  // `events` waits for an unknown task's events for ever, as it should)
  fc.tuple(fc.constantFrom('wait', 'events'), fc.boolean(), fc.oneof(fc.constantFrom('done', 'broke', 'absent'), junkText.filter((s) => s !== '--'))).chain(([command, reachable, id]) =>
    tail(command, reachable, true).map((rest): Case => ({ argv: [command, id, ...rest, SHORT_TIMEOUT], env: { REDIS_URL: reachable ? server.url : UNREACHABLE } })),
  ),
  // no timeout: the task has ended (events, wait) or does not exist (wait), and the options
  // cannot move the command to another namespace (no --key-prefix, --task-prefix)
  fc.tuple(fc.constantFrom('wait', 'events'), fc.constantFrom('done', 'broke', 'absent')).chain(([command, id]) =>
    tail(command, true, false).map((rest): Case => ({
      argv: ['--key-prefix', SEEDED, command, command === 'events' && id === 'absent' ? 'done' : id, ...rest],
      env: { REDIS_URL: server.url },
    })),
  ),
  fc.tuple(positionalsOf.submit!, fc.boolean()).chain(([positionals, reachable]) =>
    tail('submit', reachable, true).map((rest): Case => ({ argv: ['submit', ...positionals, ...rest, '--wait', SHORT_WAIT], env: { REDIS_URL: reachable ? server.url : UNREACHABLE } })),
  ),
);

/** Commands that end by themselves; a worker or monitor only ever sees an unreachable Redis. */
const ending = fc
  .tuple(fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...COMMANDS.filter((c) => c !== 'wait' && c !== 'events')) }, { weight: 1, arbitrary: junkText }), fc.boolean())
  .chain(([command, reachable0]) => {
    const runs = command === 'worker' || command === 'monitor';
    const reachable = reachable0 && !runs;
    const positionals = Object.hasOwn(positionalsOf, command) ? positionalsOf[command]! : fc.constant([] as string[]);
    const extra = fc.oneof({ weight: 8, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: junkText.map((t) => [t]) });
    return fc.tuple(positionals, extra, tail(command, reachable, true)).map(([p, extra, rest]): Case => {
      const argv = [command, ...p, ...extra, ...rest];
      // `submit --wait` without a timeout could wait for ever: it is "waiting"'s to try.
      if (command === 'submit' && argv.includes('--wait')) argv.push(SHORT_WAIT);
      return { argv, env: { REDIS_URL: reachable ? server.url : UNREACHABLE } };
    });
  });

const cases = fc.oneof(
  { weight: 10, arbitrary: ending },
  { weight: 4, arbitrary: waiting },
  { weight: 1, arbitrary: fc.array(junkText, { maxLength: 4 }).map((argv): Case => ({ argv, env: { REDIS_URL: server.url } })) },
);

/** Each run in its own namespace unless it names one (or the seeded one) itself. */
function withNamespace(c: Case): Case {
  return c.argv.includes('--key-prefix') ? c : { ...c, argv: ['--key-prefix', `fuzz${++runs}:`, ...c.argv] };
}

// ------------------------------------------------------------------------------ the property

/** lines a command prints on stderr that are neither errors nor warnings */
const INFO = /^(submitted .*; waiting for its end|task .* is .*; waiting for its end|following task .*|task .* is not known \(yet\); waiting .*|task .* has already ended .*|task .* waits, QUEUED: .*|task .* waits, DELAYED until \S+( \(a retry: .*\))?(: .*)?)$/;

function checkRun(c: Case, r: CliRun | (Omit<CliRun, 'code'> & { code: number | null })): void {
  const where = `argv ${JSON.stringify(c.argv)} env ${JSON.stringify(c.env)}\nexit ${r.code}\nstderr:\n${r.stderr}`;
  expect([0, 1, 2], where).toContain(r.code);
  expect(r.stderr, where).not.toMatch(/^\s+at /m);
  expect(r.stderr, where).not.toMatch(/unexpected error/);
  const lines = r.stderr.split('\n');
  expect(lines.pop(), `${where}\n(stderr must end with a newline)`).toBe('');
  const errors = lines.filter((l) => l.startsWith('task-swarm: ') && !l.startsWith('task-swarm: warning: '));
  for (const l of lines) expect(l.startsWith('task-swarm: ') || INFO.test(l), `${where}\n(unexpected stderr line ${JSON.stringify(l)})`).toBe(true);
  if (r.code === 0) {
    expect(errors, where).toEqual([]);
  } else {
    expect(errors, where).toHaveLength(1);
    expect(lines.at(-1), where).toBe(errors[0]);
  }
}

const BOUND_MS = 8000;

async function runBounded(c: Case): Promise<CliRun> {
  const logLevel = process.env.TASK_SWARM_LOG; // --log sets it for the worker/monitor it would start
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      runMain(c.argv, c.env),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`main did not return within ${BOUND_MS} ms: ${JSON.stringify(c)}`)), BOUND_MS))),
    ]);
  } finally {
    clearTimeout(timer);
    process.env.TASK_SWARM_LOG = logLevel;
  }
}

describe('task-swarm CLI, fuzzed', () => {
  it(`any of ${RUNS} generated command lines: status 0/1/2, one error line, no stack, returns`, async () => {
    const signals = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    await fc.assert(
      fc.asyncProperty(cases, async (c0) => {
        const c = withNamespace(c0);
        checkRun(c, await runBounded(c));
      }),
      { numRuns: RUNS },
    );
    // a worker, monitor or events run leaves no signal handler behind
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(signals);
  }, 120_000);

  it('the bin wrapper exits with what main returns, printing the same, for sampled command lines', async () => {
    // Namespaces differ between the two runs, so keep the samples whose outcome cannot depend
    // on what an earlier run wrote (no submit, no shared namespace), and that a process can
    // take as argv (no NUL, no lone surrogate). Two of each exit status, as main gives them.
    const samples = fc
      .sample(cases, { numRuns: 300, seed: 7 })
      .filter((c) => !c.argv.includes('--key-prefix') && c.argv[0] !== 'submit' && c.argv.every((a) => !a.includes('\0') && Buffer.from(a).toString() === a));
    const picked = new Map<number, { c: Case; r: CliRun }[]>();
    for (const c0 of samples) {
      const c = withNamespace(c0);
      const r = await runBounded(c);
      const same = picked.get(r.code) ?? [];
      if (same.length < 2) picked.set(r.code, [...same, { c: c0, r }]);
    }
    expect([...picked.keys()].sort()).toEqual([0, 1, 2]);
    for (const { c: c0, r } of [...picked.values()].flat()) {
      const c = withNamespace(c0);
      const proc = await runProcess(c.argv, c.env);
      checkRun(c, proc);
      expect({ code: proc.code, stdout: proc.stdout, stderr: proc.stderr }, JSON.stringify(c)).toEqual(r);
    }
  }, 120_000);

  it('TASK_SWARM_DEBUG=1 adds the stack after the one line, in-process and as a process', async () => {
    const argv = ['get', 'x'];
    const env = { REDIS_URL: UNREACHABLE, TASK_SWARM_DEBUG: '1' };
    for (const r of [await runMain(argv, env), await runProcess(argv, env)]) {
      expect(r.code).toBe(1);
      const [first, ...rest] = r.stderr.trim().split('\n');
      expect(first).toMatch(/^task-swarm: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
      expect(rest.join('\n')).toMatch(/^\s+at /m);
    }
  });
});
