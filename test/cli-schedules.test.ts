/**
 * The CLI's schedules (issue 8): schedule, unschedule, schedules, against a private Redis and a
 * real monitor. Each mistake is one line on stderr with exit status 2, and writes nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Monitor } from '../src/index.js';
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

const swarm = () => cliSwarm(server, redis, `sched${++n}:`);

const oneLine = expectOneLine;

describe('task-swarm schedule / schedules / unschedule', () => {
  it('sets a schedule that a monitor fires, lists it, and removes it', async () => {
    const s = swarm();
    const r = await s.run('schedule', 'nightly', 'report', '{"k":1}', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--overlap', 'skip', '--priority', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^scheduled "nightly": cron "0 3 \* \* \*" Europe\/Berlin -> "report", overlap skip; next \S+\n$/);
    const again = await s.run('schedule', 'nightly', 'report', '{"k":1}', '--cron', '0 3 * * *', '--tz', 'Europe/Berlin', '--overlap', 'skip', '--priority', '2');
    expect(again.stdout).toMatch(/^unchanged "nightly"/);
    expect((await s.run('schedule', 'poll', 'ping', '--every', '200')).code).toBe(0);

    const m = new Monitor({ redis: { ...server.options(), keyPrefix: s.prefix }, checkTaskInterval: 100, logger: quiet });
    await m.start();
    await until(async () => (await s.client.schedules()).find((x) => x.name === 'poll')?.lastId, 'a firing of poll', 5000);
    await m.stop();

    const list = await s.run('schedules');
    expect(list.code).toBe(0);
    const lines = list.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^"nightly": cron/);
    expect(lines[1]).toMatch(/^"poll": every 200 ms -> "ping"; next \S+; last \S+ \(schedule:poll@\S+\)$/);
    const json = JSON.parse((await s.run('schedules', '--json')).stdout) as { name: string; options: object }[];
    expect(json.map((x) => x.name)).toEqual(['nightly', 'poll']);
    expect(json[0]!.options).toEqual({ priority: 2 });

    expect(await s.run('unschedule', 'poll')).toMatchObject({ code: 0, stdout: 'unscheduled "poll"\n' });
    oneLine(await s.run('unschedule', 'poll'), 1, /no schedule named "poll"/);
    expect((await s.run('schedules')).stdout).not.toMatch(/poll/);
    await s.client.close();
  }, 15_000);

  it('a tick past by more than a few seconds is said to be overdue, and why: no monitor runs (or none since its last sweep)', async () => {
    const s = swarm();
    const due = `${s.prefix}new-task:schedules:due`;
    expect((await s.run('schedule', 'tick', 'ping', '--every', '60000')).code).toBe(0);
    // its tick ten minutes ago, as when no monitor ran since (Redis's clock)
    const [sec] = await redis.time();
    const tick = Number(sec) * 1000 - 600_000;
    await redis.zadd(due, tick, 'tick');
    const iso = new Date(tick).toISOString();
    const never = await s.run('schedules');
    expect(never.code, never.stderr).toBe(0);
    expect(never.stdout).toBe(`"tick": every 60000 ms -> "ping"; next ${iso} (overdue by 10 min: no monitor runs to fire it; schedules fire only while one does); not fired yet\n`);
    expect(JSON.parse((await s.run('schedules', '--json')).stdout)).toMatchObject([{ name: 'tick', next: tick, overdue: expect.any(Number) }]);

    // a monitor that swept this swarm, then stopped: its last sweep is named
    const m = new Monitor({ redis: { ...server.options(), keyPrefix: s.prefix }, taskTimeout: 300, checkTaskInterval: 100, logger: quiet });
    await m.start();
    await until(async () => (await s.client.schedules())[0]?.lastId, 'the monitor to fire the overdue tick', 5000);
    await m.stop();
    const [swept] = await s.client.monitors();
    expect(swept).toBeDefined();
    await redis.zadd(due, tick, 'tick');
    await until(async () => (await s.client.monitors())[0]?.health === 'silent', 'the monitor to be silent past its taskTimeout');
    const after = await s.run('schedules');
    expect(after.stdout).toMatch(
      new RegExp(`; next ${iso} \\(overdue by 10 min: no monitor runs to fire it \\(the last swept at ${new Date(swept!.lastSweep).toISOString()}\\); schedules fire only while one does\\); last `),
    );
    await s.client.close();
  }, 15_000);

  const mistakes: [string, string[], RegExp][] = [
    ['no name', ['schedule'], /schedule: missing schedule name/],
    ['no function', ['schedule', 'n'], /schedule: missing function name/],
    ['neither --cron nor --every', ['schedule', 'n', 'f'], /give --cron <expr> or --every <ms>, not neither/],
    ['both --cron and --every', ['schedule', 'n', 'f', '--cron', '* * * * *', '--every', '100'], /not both/],
    ['--tz without --cron', ['schedule', 'n', 'f', '--every', '100', '--tz', 'UTC'], /--tz only goes with --cron/],
    ['a cron that does not parse', ['schedule', 'n', 'f', '--cron', 'soon'], /cron "soon" does not parse/],
    ['a zone that does not exist', ['schedule', 'n', 'f', '--cron', '0 3 * * *', '--tz', 'Mars/Olympus'], /tz must be an IANA time zone/],
    // (its bounds are the library's, 10 ms to ten years, said of the flag: under or over them it
    // was refused by the library as `schedule "n": every must be ...`, naming no flag)
    ['--every 0', ['schedule', 'n', 'f', '--every', '0'], /^task-swarm: --every must be an integer >= 10, got "0"$/m],
    ['--every past any integer', ['schedule', 'n', 'f', '--every', '99999999999999999999'], /^task-swarm: --every must be an integer <= 316224000000, got "99999999999999999999"$/m],
    ['--every 5 (under 10 ms)', ['schedule', 'n', 'f', '--every', '5'], /^task-swarm: --every must be an integer >= 10, got "5"$/m],
    ['--every over ten years', ['schedule', 'n', 'f', '--every', '316224000001'], /^task-swarm: --every must be an integer <= 316224000000, got "316224000001"$/m],
    ['--every not a number', ['schedule', 'n', 'f', '--every', 'often'], /--every must be an integer, got "often"/],
    ['a bad --overlap', ['schedule', 'n', 'f', '--every', '100', '--overlap', 'queue'], /--overlap must be allow or skip, got "queue"/],
    ['bad JSON data', ['schedule', 'n', 'f', '{x', '--every', '100'], /json-data is not valid JSON/],
    ['an extra argument', ['schedule', 'n', 'f', '1', '2', '--every', '100'], /unexpected argument "2"/],
    ['unschedule without a name', ['unschedule'], /unschedule: missing schedule name/],
  ];
  for (const [what, argv, message] of mistakes) {
    it(`${what}: one line, exit 2, nothing written`, async () => {
      const s = swarm();
      oneLine(await s.run(...argv), 2, message);
      expect(await s.keys()).toEqual([]);
      await s.client.close();
    });
  }

  it('a name or function holding a C1 control (NEL U+0085, CSI U+009B) is listed escaped: one line per schedule, no terminal control', async () => {
    const s = swarm();
    const names = ['next\u0085line', 'csi\u009b31mred', 'plain'];
    for (const name of names) expect((await s.run('schedule', name, 'fn\u0085x', '--every', '60000')).code).toBe(0);
    const list = await s.run('schedules');
    expect(list.code, list.stderr).toBe(0);
    // (Python's splitlines, and a terminal, take NEL for a line break; CSI starts an escape sequence)
    expect(list.stdout).not.toMatch(/[\u0080-\u009f]/);
    const lines = list.stdout.trimEnd().split(/\r\n|[\n\r\u0085\u2028\u2029]/);
    expect(lines).toEqual([
      expect.stringMatching(/^"csi\\u009b31mred": every 60000 ms -> "fn\\u0085x"; /),
      expect.stringMatching(/^"next\\u0085line": every 60000 ms -> "fn\\u0085x"; /),
      expect.stringMatching(/^"plain": every 60000 ms/),
    ]);
    const set = await s.run('schedule', 'next\u0085line', 'fn\u0085x', '--every', '60000');
    expect(set.stdout).toMatch(/^unchanged "next\\u0085line": [^\u0080-\u009f]*\n$/);
    await s.client.close();
  });

  it('help lists the commands and their options', async () => {
    const r = await runMain(['--help'], {});
    // (a term too wide for the column of summaries at 80 columns: its summary on the line under it)
    expect(r.stdout).toMatch(/^ {2}schedule <name> <function> \[json-data\]\s+queue a task at every tick/m);
    expect(r.stdout).toMatch(/^ {2}unschedule <name> +remove a schedule/m);
    expect(r.stdout).toMatch(/^ {2}schedules +list the schedules/m);
    const h = await runMain(['schedule', '--help'], {});
    expect(h.stdout).toMatch(/--overlap <allow\|skip>/);
    expect(h.stdout).toMatch(/--tz <zone> +the time zone of --cron/);
  });
});
