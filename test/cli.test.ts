/** The CLI against a private Redis: what a user types, what they see. Mistakes are one line. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', CLI, ...args], { env: { ...process.env, REDIS_URL: server.url, ...env }, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('task-swarm CLI', () => {
  it('submits a task, reads it back, lists it in status', async () => {
    const prefix = `cli${Date.now()}:`;
    const sub = await cli(['submit', 'resize', '{"w":10}', '--id', 'c1', '--key-prefix', prefix]);
    expect(sub).toMatchObject({ code: 0, stderr: '' });
    expect(sub.stdout.trim()).toBe('c1');
    const got = await cli(['get', 'c1', '--key-prefix', prefix]);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: 'c1', state: 'QUEUED' });
    const st = await cli(['status', '--json', '--key-prefix', prefix]);
    expect(JSON.parse(st.stdout)).toMatchObject({ queued: 1 });
  });

  const mistakes: [string, string[], number, RegExp][] = [
    ['an unknown command', ['bogus'], 2, /unknown command "bogus"/],
    ['a missing argument', ['submit'], 2, /missing function name/],
    ['bad JSON data', ['submit', 'f', '{nope'], 2, /JSON/],
    ['an unknown task id', ['get', 'no-such-task'], 1, /no task with id "no-such-task"/],
    ['a bad option value', ['worker', '--functions', CLI, '--concurrency', '0'], 2, /--concurrency must be an integer >= 1, got "0"/],
    // (as a missing --redis-password-file: the path typed is the mistake; it was status 1)
    ['a --functions file that is not there', ['worker', '--functions', '/no/such/functions.js'], 2, /^task-swarm: --functions: no such file: \/no\/such\/functions\.js\n$/],
    // an inherited property of the command table is no command (it was an "unexpected error", 1)
    ['a command named like an Object property', ['constructor'], 2, /unknown command "constructor"/],
    // Node timers cannot wait longer: the wait used to end at once, "timed out", with Node's warning
    ['a timeout longer than a timer can wait', ['wait', 'some-task', '--timeout', '99999999999'], 2, /--timeout must be an integer <= 2147483647, got "99999999999"/],
    ['an option whose value was forgotten', ['status', '--redis-url', '--json'], 2, /option --redis-url needs a value \(one starting with "-" goes as --redis-url=-value\)/],
    ['input with a newline, echoed whole on its one line', ['bo\ngus'], 2, /unknown command "bo\\ngus"/],
    // commander kept the last, silently: the task was queued under the second id
    ['an id given twice', ['submit', 'f', '--id', 'a', '--id', 'b'], 2, /^task-swarm: option --id given twice: give it once\n$/],
    ['an option given twice, once as --flag=value', ['status', '--redis-url=redis://127.0.0.1:1', '--redis-url', 'redis://127.0.0.1:2'], 2, /option --redis-url given twice/],
    ['events of a task that does not end within --timeout', ['events', 'never-ends', '--timeout', '300'], 1, /task "never-ends" did not end within 300 ms/],
  ];
  for (const [what, args, code, message] of mistakes) {
    it(`${what}: exit ${code}, ${code ? 'one line on stderr' : 'no error'}, no stack`, async () => {
      const r = await cli(args);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(message);
      if (code) {
        const lines = r.stderr.trim().split('\n');
        expect(lines.filter((l) => l.startsWith('task-swarm: ') || /\bat |Warning/.test(l))).toHaveLength(1);
        expect(lines.at(-1)).toMatch(/^task-swarm: /);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
    });
  }

  it('an id in use: the same task submitted again prints its id (exit 0); another task under it is one line (exit 1)', async () => {
    // (a key prefix of its own: what the other tests submit, in whatever order, is not here)
    const prefix = `clid${Date.now()}:`;
    const first = await cli(['submit', 'f', '1', '--id', 'dup-cli', '--key-prefix', prefix]);
    expect(first).toMatchObject({ code: 0, stdout: 'dup-cli\n', stderr: '' });
    // the very same task again is the same submission (a resend is answered so too): its id,
    // and a warning that nothing new was queued
    const again = await cli(['submit', 'f', '1', '--id', 'dup-cli', '--key-prefix', prefix]);
    expect(again).toMatchObject({ code: 0, stdout: 'dup-cli\n' });
    expect(again.stderr).toMatch(/^task-swarm: warning: task "dup-cli" was submitted before, the very same task \(QUEUED\): nothing new submitted; its id follows\n$/);
    const other = await cli(['submit', 'f', '2', '--id', 'dup-cli', '--key-prefix', prefix]);
    expect(other.code).toBe(1);
    expect(other.stdout).toBe('');
    expect(other.stderr).toMatch(/^task-swarm: .*already in use.*\n$/);
    expect(other.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('wait: junk on the events channel (an `at` no Date holds, null, not JSON) is printed, and the wait goes on to the end', async () => {
    const prefix = `cliw${Date.now()}:`;
    const redis = server.client();
    await redis.hset(`${prefix}task-w1`, 'state', 'RUNNING');
    const done = cli(['wait', 'w1', '--timeout', '15000', '--key-prefix', prefix]);
    const channel = `${prefix}task-w1-events`;
    while (((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] === 0) await new Promise((r) => setTimeout(r, 20));
    for (const m of ['{"event":"progress","data":1,"at":1e300}', 'null', '{nope', '{"event":"end","data":{}}']) await redis.publish(channel, m);
    await new Promise((r) => setTimeout(r, 200));
    await redis.hset(`${prefix}task-w1`, 'state', 'END', 'outcome', 'succeeded', 'result', '"ok"');
    await redis.publish(channel, JSON.stringify({ event: 'end', data: { id: 'w1', outcome: 'succeeded', result: 'ok' }, at: Date.now() }));
    const r = await done;
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'w1', state: 'END', outcome: 'succeeded', result: 'ok' });
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('task w1 is RUNNING; waiting for its end');
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} w1 progress 1$/);
    expect(lines[2]).toMatch(/ w1 raw "null"$/);
    expect(lines[3]).toMatch(/ w1 raw "\{nope"$/);
  });

  it('an unreachable Redis: one line naming it', async () => {
    const r = await cli(['status'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^task-swarm: cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
