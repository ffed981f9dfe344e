/**
 * Review of the connection forms at their edges: inputs that were accepted and then crashed
 * (a raw TypeError or URIError naming no field), connected in plain text where the config says
 * TLS, or put a secret into an error; each now a ConfigError naming the field, with no secret in
 * it. Against real servers where a connection is part of the claim.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveRedisConfig } from '../src/config.js';
import { Client, ConfigError, Monitor, RedisUnavailableError, Worker } from '../src/index.js';
import { freePort, type RedisServer } from './helpers/redis-server.js';
import { makeCertificates, type Certificates } from './helpers/deployments.js';
import { runMain } from './helpers/cli.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => (server = s));
let dir: string;
let certs: Certificates;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-forms-'));
  certs = makeCertificates(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** every component's constructor with `redis`: each throws, or none does */
const makers = (redis: unknown) => [() => new Client({ redis } as never), () => new Worker({ port: 0, redis } as never), () => new Monitor({ redis } as never)];

describe('a url in upper case is still TLS', () => {
  it('REDISS:// against a plain-text server: start() is refused (it connected in plain text, sending the password in clear)', async () => {
    expect(resolveRedisConfig({ url: 'REDISS://h:1' }).url).toBe('rediss://h:1');
    const w = new Worker({ port: 0, redis: { url: `REDISS://127.0.0.1:${server.port}`, keyPrefix: 'upper:' } });
    const err = await w.start().then(
      async () => {
        await w.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/^cannot reach Redis at rediss:\/\/127\.0\.0\.1:\d+/);
  }, 20_000);
});

describe('urls that are not redis urls: a ConfigError naming redis.url, the url not repeated', () => {
  const cases: [string, string, RegExp][] = [
    ['no scheme at all', 'not a url', /redis\.url must start with redis:\/\/, rediss:\/\/, redis\+sentinel:\/\/ or redis\+cluster:\/\//],
    ['another scheme', 'http://app:pw-secret@h:1', /redis\.url must start with .*, got http:\/\//],
    ['a sentinel url over TLS (not supported)', 'rediss+sentinel://app:pw-secret@h:1/m', /got rediss\+sentinel:\/\//],
    ['a host with a space', 'redis://app:pw-secret@h x:1', /redis\.url \(a redis:\/\/ url\) cannot be read as a url/],
    ['a bad %-escape in a sentinel password', 'redis+sentinel://app:pw-secret%zz@h:1/m', /redis\.url must look like redis\+sentinel:.*the password holds a % that does not start an escape/],
    ['a bad %-escape in a sentinel name', 'redis+sentinel://h:1/my%zzmaster', /the name holds a %/],
    // (ioredis decoded it when connecting: start() said "cannot reach Redis ...: URI malformed", of a server it never tried)
    ['a bad %-escape in a redis:// password', 'redis://app:pw-secret%zz@h:1', /^redis\.url \(a redis:\/\/ url\): the password holds a % that does not start an escape \(write %25 for a % itself\)$/],
    ['a bad %-escape in a rediss:// user', 'rediss://a%zzpp:pw-secret@h:1', /^redis\.url \(a rediss:\/\/ url\): the user name holds a %/],
    ['a sentinel db beyond any db', 'redis+sentinel://h:1/m/99999999999999999999', /the db 99999999999999999999 is above 2147483647/],
  ];
  for (const [what, url, message] of cases) {
    it(what, () => {
      for (const make of makers({ url })) {
        let err: unknown;
        try {
          make();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toMatch(message);
        expect((err as Error).message).not.toContain('pw-secret');
      }
    });
  }

  it('the CLI: REDIS_URL with a bad %-escape is a usage error on one line, not "unexpected error: URI malformed"', async () => {
    const r = await runMain(['status'], { REDIS_URL: 'redis+sentinel://app:pw-secret%zz@127.0.0.1:1/mymaster' });
    expect(r.stderr.trim()).toMatch(/^task-swarm: --redis-url must look like redis\+sentinel:.*the password holds a %/);
    expect(r.stderr).not.toContain('pw-secret');
    expect(r.code).toBe(2);
  });
});

describe('secrets stay out of errors', () => {
  it('a password in the url\'s query (?password=, which ioredis uses) is not in the error of an unreachable Redis', async () => {
    const port = await freePort();
    const err = await new Worker({ port: 0, redis: { url: `redis://127.0.0.1:${port}/0?password=q-secret` } }).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`^cannot reach Redis at redis://127\\.0\\.0\\.1:${port}/0: `));
    expect((err as Error).message).not.toContain('q-secret');
  });

  it('the CLI: a ?password= in the url is masked in its errors, as the userinfo is', async () => {
    const port = await freePort();
    for (const env of [{ REDIS_URL: `redis://127.0.0.1:${port}/0?password=q-secret` }, { REDIS_URL: `http://app:pw-secret@127.0.0.1:${port}/0?x=1&password=q-secret` }]) {
      const r = await runMain(['status'], env);
      expect(r.stderr).toMatch(/\?password=\*\*\*|&password=\*\*\*/);
      expect(r.stderr).not.toMatch(/q-secret|pw-secret/);
    }
  });

  it('a key pasted without its PEM header is taken for a path, and not shown in the error (library and CLI)', async () => {
    const body = readFileSync(certs.clientKey, 'utf8').replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    for (const make of makers({ url: 'rediss://h:1', tls: { cert: certs.clientCert, key: body } })) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(/^redis\.tls\.key: cannot read the file it names \(the value is not shown/);
      expect(make).not.toThrow(body.slice(0, 40));
    }
    const r = await runMain(['status', '--redis-url', 'rediss://127.0.0.1:1', '--redis-tls-cert', certs.clientCert, '--redis-tls-key', body]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--redis-tls-key: cannot read the file it names/);
    expect(r.stderr).not.toContain(body.slice(0, 40));
    // a path is still shown, as the field's error always did
    expect(() => resolveRedisConfig({ tls: { cert: certs.clientCert, key: join(dir, 'missing.key') } })).toThrow(/redis\.tls\.key: cannot read ".*missing\.key" \(ENOENT\)/);
  });
});

describe('key material given in the wrong place is not echoed', () => {
  it('a PEM key as `tls` itself, or Node\'s [{ pem, passphrase }] as `key`: the error names the field and the kind of value only', () => {
    const pem = readFileSync(certs.clientKey, 'utf8');
    for (const [tls, message] of [
      [pem, /^redis\.tls must be an object \{ ca, cert, key, servername, rejectUnauthorized \}, got a string$/],
      [{ cert: certs.clientCert, key: [{ pem, passphrase: 'pass-secret' }] }, /^redis\.tls\.key must be PEM text, a Buffer of it, or the path of a PEM file, got an array$/],
    ] as const) {
      for (const make of makers({ url: 'rediss://h:1', tls })) {
        let err: unknown;
        try {
          make();
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as Error).message).toMatch(message);
        expect((err as Error).message).not.toMatch(/PRIVATE KEY|pass-secret|MI/);
      }
    }
  });
});

describe('a client certificate OpenSSL cannot use: a ConfigError naming the field when the component is built', () => {
  it('a key that is not the certificate\'s (was OpenSSL\'s bare "key values mismatch" from start(), naming nothing)', async () => {
    for (const make of makers({ url: 'rediss://127.0.0.1:1', tls: { ca: certs.ca, cert: certs.clientCert, key: certs.serverKey } })) {
      expect(make).toThrow(ConfigError);
      expect(make).toThrow(/^redis\.tls\.key is not the key of redis\.tls\.cert/);
    }
    const r = await runMain(['status', '--redis-url', 'rediss://127.0.0.1:1', '--redis-tls-ca', certs.ca, '--redis-tls-cert', certs.clientCert, '--redis-tls-key', certs.serverKey]);
    expect(r.stderr.trim()).toMatch(/^task-swarm: --redis-tls-key is not the key of --redis-tls-cert/);
    expect(r.code).toBe(2);
  });

  it('a certificate whose PEM body is not base64', () => {
    const garbage = join(dir, 'garbage.crt');
    writeFileSync(garbage, '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n');
    for (const make of makers({ url: 'rediss://127.0.0.1:1', tls: { cert: garbage, key: certs.clientKey } })) {
      expect(make).toThrow(/^redis\.tls\.cert: OpenSSL cannot read the certificate/);
    }
  });
});

describe('REDIS_SENTINEL_PASSWORD in the environment', () => {
  it('does not stop a command against one Redis (it named a flag no one typed: "--redis-sentinel-password-file only goes with...")', async () => {
    const r = await runMain(['status', '--json', '--key-prefix', 'envsp:'], { REDIS_URL: server.url, REDIS_SENTINEL_PASSWORD: 'sentinel-secret' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // the flag itself is still refused without sentinels
    const pw = join(dir, 'sentinel.pw');
    writeFileSync(pw, 'x\n');
    const f = await runMain(['status', '--redis-sentinel-password-file', pw], { REDIS_URL: server.url });
    expect(f.stderr).toMatch(/--redis-sentinel-password-file only goes with --redis-sentinels/);
    expect(f.code).toBe(2);
  });
});

void cleanup;
