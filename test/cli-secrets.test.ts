/**
 * Secrets reach the CLI from files or the environment, not argv (which `ps` shows to every
 * user): the Redis password from --redis-password-file or REDIS_PASSWORD, the peer secret from
 * --secret-file or TASK_SWARM_SECRET. One given on the command line still works, with one
 * warning line. A secret file that cannot be used is one usage line naming the flag and path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Monitor, RedisUnavailableError, Worker } from '../src/index.js';
import { pingPeer } from '../src/peer-prober.js';
import { freePort, spawnRedis } from '../tools/redis-process.js';
import { CLI, runMain, runProcess } from './helpers/cli.js';
import { until } from './helpers/redis-server.js';

const PASSWORD = 'correct horse battery staple';

let dir: string;
let redisProc: ChildProcess;
let url: string;
let admin: Redis;
let prefixes = 0;
const children = new Set<ChildProcess>();

const file = (name: string, content: string) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-cli-secrets-'));
  const port = await freePort();
  redisProc = await spawnRedis({ port, dir, requirepass: PASSWORD });
  url = `redis://127.0.0.1:${port}`;
  admin = new Redis({ port, password: PASSWORD });
  writeFileSync(join(dir, 'tasks.mjs'), 'export function noop() { return 1; }\n');
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  admin?.disconnect();
  redisProc?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** a real process, pointed at the Redis that wants a password; `env` adds to a clean environment */
const cli = (args: string[], env: Record<string, string> = {}) => runProcess(args, { REDIS_URL: url, ...env });

/** A `task-swarm worker` process; resolves with its peer address once it has registered. */
async function worker(args: string[], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; address: string; stderr: () => string }> {
  const prefix = `sec${++prefixes}:`;
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['REDIS_PASSWORD', 'TASK_SWARM_SECRET'].includes(k)));
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'worker', '--functions', join(dir, 'tasks.mjs'), '--port', '0', '--key-prefix', prefix, '--log', 'warn', ...args], {
    env: { ...clean, REDIS_URL: url, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.add(proc);
  proc.on('exit', () => children.delete(proc));
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const [address] = await until(async () => {
    if (proc.exitCode !== null) throw new Error(`worker exited ${proc.exitCode}: ${stderr}`);
    const members = await admin.smembers(`${prefix}workers`);
    return members.length ? members : null;
  }, 'the worker to register');
  return { proc, address: address!, stderr: () => stderr };
}

function stop(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(proc.exitCode);
    proc.once('exit', (code) => resolve(code));
    proc.kill('SIGTERM');
  });
}

const oneUsageLine = (r: { code: number | null; stderr: string }) => {
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^task-swarm: /);
};

describe('the Redis password, to the library', () => {
  it('a Worker or a Monitor whose password is wrong, or missing, fails start() saying Redis refused it (it was reached)', async () => {
    const port = Number(new URL(url).port);
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const wrong = new Worker({ port: 0, redis: { host: '127.0.0.1', port, password: 'wrong' }, logger: quiet });
    wrong.addTaskFunction('f', () => 1);
    const e = await wrong.start().catch((x: Error) => x);
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expect((e as Error).message).toBe(`Redis at ${url} refused the password: WRONGPASS invalid username-password pair or user is disabled.`);
    const none = new Monitor({ redis: { host: '127.0.0.1', port }, logger: quiet });
    await expect(none.start()).rejects.toThrow(`Redis at ${url} wants a password (redis.password): NOAUTH Authentication required.`);
  });
});

describe('the Redis password', () => {
  it('without it, a Redis that requires one refuses the command', async () => {
    const r = await cli(['status']);
    expect(r.code).toBe(1);
    // (it was reached: it asked for a password)
    expect(r.stderr).toBe(`task-swarm: Redis at ${url} wants a password (give it with REDIS_PASSWORD or --redis-password-file): NOAUTH Authentication required.\n`);
  });

  it('a wrong one: one line saying Redis refused the password (it was reached), exit 1', async () => {
    const r = await cli(['status'], { REDIS_PASSWORD: 'wrong' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`task-swarm: Redis at ${url} refused the password: WRONGPASS invalid username-password pair or user is disabled.\n`);
    const user = await cli(['status'], { REDIS_URL: url.replace('//', '//nobody@'), REDIS_PASSWORD: 'wrong' });
    expect(user.stderr).toBe(`task-swarm: Redis at ${url} refused the password of user "nobody": WRONGPASS invalid username-password pair or user is disabled.\n`);
  });

  it("given to a Redis that needs none: the command goes on, with one warning line of the CLI's, not ioredis's console lines", async () => {
    const port = await freePort();
    mkdirSync(join(dir, 'open'), { recursive: true });
    const open = await spawnRedis({ port, dir: join(dir, 'open') });
    try {
      const env = { REDIS_URL: `redis://127.0.0.1:${port}` };
      const typed = await runProcess(['status', '--redis-password', 'unneeded'], env);
      expect(typed.code, typed.stderr).toBe(0);
      expect(typed.stderr).toBe(
        'task-swarm: warning: --redis-password is visible to other users in ps; use --redis-password-file <path> or env REDIS_PASSWORD instead\n' +
          'task-swarm: warning: this Redis needs no password (its default user has none): the password given is not used\n',
      );
      const fromEnv = await runProcess(['submit', 'f', '--id', 'x'], { ...env, REDIS_PASSWORD: 'unneeded' });
      expect(fromEnv).toEqual({ code: 0, stdout: 'x\n', stderr: 'task-swarm: warning: this Redis needs no password (its default user has none): the password given is not used\n' });
    } finally {
      open.kill('SIGKILL');
    }
  });

  it('comes from --redis-password-file (trailing newline trimmed), with no warning', async () => {
    const r = await cli(['submit', 'noop', '--id', 'pw-file', '--redis-password-file', file('redis-pass', `${PASSWORD}\n`)]);
    expect(r).toMatchObject({ code: 0, stdout: 'pw-file\n', stderr: '' });
    expect(await admin.sismember('new-task:queued', 'pw-file')).toBe(1);
  });

  it('comes from env REDIS_PASSWORD', async () => {
    const r = await cli(['status', '--json'], { REDIS_PASSWORD: PASSWORD });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ queued: expect.any(Number) });
  });

  it("is applied over the URL's password and keeps the URL's user", async () => {
    const badUrl = url.replace('//', '//default:wrong@');
    expect((await cli(['status'], { REDIS_URL: badUrl })).stderr).toMatch(/WRONGPASS/);
    expect(await cli(['status'], { REDIS_URL: badUrl, REDIS_PASSWORD: PASSWORD })).toMatchObject({ code: 0, stderr: '' });
    const other = await cli(['status'], { REDIS_URL: url.replace('//', '//nobody:x@'), REDIS_PASSWORD: PASSWORD });
    expect(other.stderr).toMatch(/WRONGPASS/); // user "nobody" does not exist: the user was kept
    // the file wins over the environment
    expect(await cli(['status', '--redis-password-file', file('pw2', PASSWORD)], { REDIS_PASSWORD: 'wrong' })).toMatchObject({ code: 0, stderr: '' });
  });

  it('typed inside --redis-url still works, with one warning line that it shows in ps', async () => {
    const r = await cli(['submit', 'noop', '--id', 'pw-url', '--redis-url', url.replace('//', `//:${encodeURIComponent(PASSWORD)}@`)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('pw-url\n');
    expect(r.stderr).toMatch(/^task-swarm: warning: the password in --redis-url is visible to other users in ps; use --redis-password-file <path> or env REDIS_PASSWORD instead\n$/);
    // the same URL from the environment is not visible in ps: no warning
    const env = await cli(['status'], { REDIS_URL: url.replace('//', `//:${encodeURIComponent(PASSWORD)}@`) });
    expect(env).toMatchObject({ code: 0, stderr: '' });
  });

  it('typed with --redis-password still works, with one warning line; it wins over REDIS_PASSWORD, and goes alone, not with the file', async () => {
    const r = await runMain(['submit', 'noop', '--id', 'pw-typed', '--redis-password', PASSWORD], { REDIS_URL: url, REDIS_PASSWORD: 'wrong' });
    expect(r).toMatchObject({ code: 0, stdout: 'pw-typed\n' });
    expect(r.stderr).toBe('task-swarm: warning: --redis-password is visible to other users in ps; use --redis-password-file <path> or env REDIS_PASSWORD instead\n');
    const both = await runMain(['status', '--redis-password', PASSWORD, '--redis-password-file', file('pw4', PASSWORD)], { REDIS_URL: url });
    expect(both.code).toBe(2);
    expect(both.stderr.trim().split('\n').at(-1)).toBe('task-swarm: --redis-password and --redis-password-file both given: use one (--redis-password-file keeps it out of ps)');
  });
});

describe('the peer secret', () => {
  it('--secret-file: the worker authenticates pings with the file content, trailing newline trimmed', async () => {
    const w = await worker(['--secret-file', file('peer-secret', 's3cret\n'), '--redis-password-file', file('pw3', PASSWORD)]);
    expect(await pingPeer(w.address, 1000, 's3cret')).toBe(true);
    expect(await pingPeer(w.address, 1000, 's3cret\n')).toBe(false);
    expect(await pingPeer(w.address, 1000, 'other')).toBe(false);
    expect(await pingPeer(w.address, 1000)).toBe(false);
    expect(await stop(w.proc)).toBe(0);
    expect(w.stderr()).not.toMatch(/warning/);
  });

  it('env TASK_SWARM_SECRET: the same, nothing on the command line', async () => {
    const w = await worker([], { TASK_SWARM_SECRET: 'from-env', REDIS_PASSWORD: PASSWORD });
    expect(await pingPeer(w.address, 1000, 'from-env')).toBe(true);
    expect(await pingPeer(w.address, 1000, 'other')).toBe(false);
    expect(await stop(w.proc)).toBe(0);
  });

  it('--secret still works, with one warning line that it shows in ps', async () => {
    const w = await worker(['--secret', 'typed'], { REDIS_PASSWORD: PASSWORD });
    expect(await pingPeer(w.address, 1000, 'typed')).toBe(true);
    expect(w.stderr()).toMatch(/^task-swarm: warning: --secret is visible to other users in ps; use --secret-file <path> or env TASK_SWARM_SECRET instead\n$/);
    expect(await stop(w.proc)).toBe(0);
  });
});

describe('a secret file that cannot be used: one usage line naming the flag and the path, exit 2', () => {
  const cases: [string, () => string, RegExp][] = [
    ['missing', () => join(dir, 'no-such-file'), /no such file/],
    ['a directory', () => (mkdirSync(join(dir, 'a-dir'), { recursive: true }), join(dir, 'a-dir')), /a directory/],
    ['empty', () => file('empty', ''), /empty/],
    ['only a newline', () => file('newline', '\n'), /empty/],
  ];
  for (const [what, path, why] of cases) {
    for (const [flag, command] of [
      ['--secret-file', 'monitor'],
      ['--secret-file', 'worker'],
      ['--redis-password-file', 'status'],
    ] as const) {
      it(`${flag} of ${command}, ${what}`, async () => {
        const p = path();
        const extra = command === 'worker' ? ['--functions', join(dir, 'tasks.mjs')] : [];
        const r = await runMain([command, flag, p, ...extra], { REDIS_URL: url, REDIS_PASSWORD: PASSWORD });
        oneUsageLine(r);
        expect(r.stderr).toContain(`task-swarm: ${flag} ${JSON.stringify(p)}: `);
        expect(r.stderr).toMatch(why);
      });
    }
  }

  it('--secret and --secret-file together are a usage error (which one was meant?)', async () => {
    const r = await runMain(['monitor', '--secret', 'a', '--secret-file', file('s', 'b')], { REDIS_URL: url, REDIS_PASSWORD: PASSWORD });
    expect(r.stderr).toMatch(/--secret and --secret-file both given/);
    expect(r.stderr.trim().split('\n').filter((l) => !/warning/.test(l))).toHaveLength(1);
    expect(r.code).toBe(2);
  });
});

describe('--help says where secrets come from', () => {
  for (const command of ['worker', 'monitor']) {
    it(`${command} --help names the file flags and the environment, and that argv shows in ps`, async () => {
      const r = await runMain([command, '--help']);
      expect(r.code).toBe(0);
      for (const s of ['--secret-file <path>', 'TASK_SWARM_SECRET', '--redis-password-file <path>', 'REDIS_PASSWORD', 'ps']) expect(r.stdout).toContain(s);
    });
  }
  for (const command of ['submit', 'status', 'get']) {
    it(`${command} --help names the Redis password's file flag and environment variable`, async () => {
      const r = await runMain([command, '--help']);
      expect(r.code).toBe(0);
      for (const s of ['--redis-password-file <path>', 'REDIS_PASSWORD']) expect(r.stdout).toContain(s);
      expect(r.stdout).not.toContain('--secret');
    });
  }
});
