/**
 * The forms of the `redis` option (host/port, url, rediss:// with TLS files, Sentinel), each
 * validated with a ConfigError naming what is wrong; the same forms from the CLI and REDIS_URL;
 * and the server version check at start-up, on the INFO text of a real server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveRedisConfig } from '../src/config.js';
import { hashTag } from '../src/redis-forms.js';
import { Client, ConfigError, Monitor, UnsupportedServerError, Worker } from '../src/index.js';
import { checkServer, checkServerVersion, parseServerVersion } from '../src/server-version.js';
import { runMain } from './helpers/cli.js';
import { redisPerFile } from './helpers/suite.js';
import type { RedisServer } from './helpers/redis-server.js';

const dir = mkdtempSync(join(tmpdir(), 'task-swarm-forms-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const pemFile = join(dir, 'ca.pem');
writeFileSync(pemFile, PEM);
const notPem = join(dir, 'not.pem');
writeFileSync(notPem, 'hello\n');

let server: RedisServer;
const cleanup = redisPerFile((s) => (server = s));

describe('the redis connection forms', () => {
  it('a rediss:// url with TLS files: the files are read once, PEM text is taken as is', () => {
    const c = resolveRedisConfig({ url: 'rediss://u:p@example.com:6380/1', tls: { ca: pemFile, cert: PEM, key: pemFile, servername: 'redis.internal', rejectUnauthorized: true } });
    expect(c.tls).toEqual({ ca: PEM, cert: PEM, key: PEM, servername: 'redis.internal', rejectUnauthorized: true });
    expect(c.url).toBe('rediss://u:p@example.com:6380/1');
  });

  it('a Buffer of PEM (as readFileSync returns it) is taken too', () => {
    expect(resolveRedisConfig({ url: 'rediss://h:1', tls: { ca: Buffer.from(PEM) } }).tls).toEqual({ ca: PEM });
    expect(() => resolveRedisConfig({ url: 'rediss://h:1', tls: { ca: Buffer.from('junk') } })).toThrow(/redis\.tls\.ca: the Buffer given holds no PEM block/);
  });

  it('host/port with tls is TLS too', () => {
    expect(resolveRedisConfig({ host: 'h', port: 6380, tls: { ca: PEM } }).tls).toEqual({ ca: PEM });
  });

  it('sentinels with a name', () => {
    const c = resolveRedisConfig({ sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: 's2', port: 26380 }], name: 'mymaster', sentinelPassword: 'sp', password: 'p' });
    expect(c).toMatchObject({ sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: 's2', port: 26380 }], name: 'mymaster', sentinelPassword: 'sp', password: 'p', role: 'master' });
  });

  it('a redis+sentinel:// url becomes sentinels, name, db and credentials', () => {
    const c = resolveRedisConfig({ url: 'redis+sentinel://app:s%40cret@s1:26379,[::1]:26380/mymaster/2' });
    expect(c).toMatchObject({ sentinels: [{ host: 's1', port: 26379 }, { host: '::1', port: 26380 }], name: 'mymaster', db: 2, username: 'app', password: 's@cret' });
    expect(c.url).toBeUndefined();
  });

  it('cluster nodes: the swarm goes in one slot, {task-swarm}: by default, or the hash tag of the keyPrefix given', () => {
    const c = resolveRedisConfig({ cluster: [{ host: '10.0.0.1', port: 7000 }, { host: 'n2', port: 7001 }], password: 'p' });
    expect(c).toMatchObject({ cluster: [{ host: '10.0.0.1', port: 7000 }, { host: 'n2', port: 7001 }], password: 'p', keyPrefix: '{task-swarm}:' });
    expect(resolveRedisConfig({ cluster: [{ host: 'a', port: 1 }], keyPrefix: 'app:{jobs}:' }).keyPrefix).toBe('app:{jobs}:');
    expect(hashTag('{task-swarm}:')).toBe('task-swarm');
    // as Redis reads it: the first "{", the first "}" after it, not empty
    expect(hashTag('a{}b{c}:')).toBeUndefined();
    expect(hashTag('}{x}:')).toBe('x');
  });

  it('a redis+cluster:// url becomes the nodes and credentials', () => {
    const c = resolveRedisConfig({ url: 'redis+cluster://app:s%40cret@n1:7000,[::1]:7001', keyPrefix: '{s}:' });
    expect(c).toMatchObject({ cluster: [{ host: 'n1', port: 7000 }, { host: '::1', port: 7001 }], username: 'app', password: 's@cret', keyPrefix: '{s}:' });
    expect(c.url).toBeUndefined();
  });

  const bad: [string, Record<string, unknown>, RegExp][] = [
    ['cluster with url', { cluster: [{ host: 'a', port: 1 }], url: 'redis://x:1' }, /redis\.cluster and redis\.url are two ways to reach Redis: give one/],
    ['cluster with sentinels', { cluster: [{ host: 'a', port: 1 }], sentinels: [{ host: 'a', port: 1 }], name: 'm' }, /redis\.sentinels and redis\.cluster are two ways/],
    ['a cluster url with cluster nodes', { url: 'redis+cluster://a:1', cluster: [{ host: 'a', port: 1 }] }, /redis\.url \(a redis\+cluster:\/\/ url\) and redis\.cluster both say where Redis is/],
    ['a cluster url with a db', { url: 'redis+cluster://a:1/2' }, /redis\.url must look like redis\+cluster:.*no database/],
    ['a cluster with db 3', { cluster: [{ host: 'a', port: 1 }], db: 3 }, /redis\.db must be 0 with redis\.cluster/],
    ['a cluster keyPrefix with no hash tag', { cluster: [{ host: 'a', port: 1 }], keyPrefix: 'jobs:' }, /redis\.keyPrefix must hold a hash tag with redis\.cluster, e\.g\. "\{jobs\}:", got "jobs:"/],
    ['a cluster keyPrefix with an empty hash tag', { cluster: [{ host: 'a', port: 1 }], keyPrefix: '{}:' }, /redis\.keyPrefix must hold a hash tag/],
    ['an empty cluster', { cluster: [] }, /redis\.cluster must be a non-empty array/],
    ['a cluster node with a typo', { cluster: [{ host: 'a', prot: 1 }] }, /redis\.cluster\[0\]: unknown option "prot"/],
    ['a url with a host', { url: 'redis://127.0.0.1:1', host: 'x' }, /redis\.url and redis\.host both say where Redis is: give redis\.url or redis\.host\/port, not both/],
    ['a url with a port', { url: 'rediss://127.0.0.1:1', port: 6380 }, /redis\.url and redis\.port both say where Redis is/],
    ['sentinels with url', { sentinels: [{ host: 'a', port: 1 }], name: 'm', url: 'redis://x:1' }, /redis\.sentinels and redis\.url are two ways to reach Redis: give one/],
    ['sentinels with host', { sentinels: [{ host: 'a', port: 1 }], name: 'm', host: 'x' }, /redis\.sentinels and redis\.host are two ways/],
    ['a sentinel url with sentinels', { url: 'redis+sentinel://a:1/m', sentinels: [{ host: 'a', port: 1 }] }, /redis\.url \(a redis\+sentinel:\/\/ url\) and redis\.sentinels both say where Redis is/],
    ['sentinels without a name', { sentinels: [{ host: 'a', port: 1 }] }, /redis\.name is missing/],
    ['a name without sentinels', { name: 'mymaster' }, /redis\.name only goes with redis\.sentinels/],
    ['a sentinel password without sentinels', { sentinelPassword: 'x' }, /redis\.sentinelPassword only goes with redis\.sentinels/],
    ['a replica role', { sentinels: [{ host: 'a', port: 1 }], name: 'm', role: 'slave' }, /redis\.role must be "master", got "slave"/],
    ['an empty sentinel list', { sentinels: [], name: 'm' }, /redis\.sentinels must be a non-empty array/],
    ['a sentinel without a port', { sentinels: [{ host: 'a' }], name: 'm' }, /redis\.sentinels\[0\]\.port must be a port number/],
    ['a sentinel with a typo', { sentinels: [{ host: 'a', port: 1, pot: 2 }], name: 'm' }, /redis\.sentinels\[0\]: unknown option "pot"/],
    ['a sentinel url without a name', { url: 'redis+sentinel://a:1' }, /redis\.url must look like redis\+sentinel:/],
    ['a sentinel url with a bad address', { url: 'redis+sentinel://a:1,b/m' }, /redis\.url: "b" is not host:port/],
    ['tls with a redis:// url', { url: 'redis://x:1', tls: { ca: PEM } }, /redis\.tls is given but redis\.url is redis:\/\/: write rediss:\/\//],
    ['a CA file that is not there', { tls: { ca: join(dir, 'missing.pem') } }, /redis\.tls\.ca: cannot read ".*missing\.pem" \(ENOENT\)/],
    ['a key file that holds no PEM', { tls: { cert: PEM, key: notPem } }, /redis\.tls\.key: ".*not\.pem" holds no PEM block/],
    ['a certificate without its key', { tls: { cert: PEM } }, /redis\.tls\.key is missing: a client certificate goes with its key/],
    ['a tls option with a typo', { tls: { cafile: PEM } }, /redis\.tls: unknown option "cafile"/],
    ['tls that is not an object', { tls: 'yes' }, /redis\.tls must be an object/],
    ['rejectUnauthorized that is not a boolean', { tls: { rejectUnauthorized: 'no' } }, /redis\.tls\.rejectUnauthorized must be true or false/],
  ];
  for (const [what, redis, message] of bad) {
    it(`refused: ${what}, with one ConfigError naming it`, () => {
      for (const make of [() => new Client({ redis }), () => new Worker({ redis }), () => new Monitor({ redis })]) {
        expect(make).toThrow(ConfigError);
        expect(make).toThrow(message);
      }
    });
  }
});

describe('the forms from the command line and REDIS_URL', () => {
  const usage: [string, string[], Record<string, string>, RegExp][] = [
    ['sentinels and a url', ['status', '--redis-sentinels', 'a:1', '--redis-name', 'm', '--redis-url', 'redis://x:1'], {}, /--redis-sentinels and --redis-url both say where Redis is/],
    ['sentinels without a name', ['status', '--redis-sentinels', 'a:1'], {}, /--redis-sentinels needs --redis-name/],
    ['a name without sentinels', ['status', '--redis-name', 'm'], {}, /--redis-name only goes with --redis-sentinels/],
    ['a bad sentinel list', ['status', '--redis-sentinels', 'a:1,,b:2', '--redis-name', 'm'], {}, /--redis-sentinels must be host:port\[,host:port\.\.\.\]/],
    ['a CA file that is not there', ['status', '--redis-url', 'rediss://127.0.0.1:1', '--redis-tls-ca', join(dir, 'missing.pem')], {}, /--redis-tls-ca: cannot read/],
    ['TLS files with a redis:// url', ['status', '--redis-tls-ca', pemFile], { REDIS_URL: 'redis://127.0.0.1:1' }, /--redis-tls is given but --redis-url is redis:\/\//],
    ['a bad sentinel url in REDIS_URL', ['status'], { REDIS_URL: 'redis+sentinel://a:1' }, /--redis-url must look like redis\+sentinel:/],
  ];
  for (const [what, argv, env, message] of usage) {
    it(`${what}: exit 2, one line`, async () => {
      const r = await runMain(argv, env);
      expect(r.stderr.trim()).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.code).toBe(2);
    });
  }

  it('sentinels that are not there: exit 1, one line naming them', async () => {
    const r = await runMain(['status', '--redis-sentinels', '127.0.0.1:1,127.0.0.1:2', '--redis-name', 'mymaster']);
    expect(r.stderr.trim()).toMatch(/^task-swarm: cannot reach Redis at redis\+sentinel:\/\/127\.0\.0\.1:1,127\.0\.0\.1:2\/mymaster: .*sentinels are unreachable/i);
    expect(r.code).toBe(1);
  });

  it('REDIS_URL=redis+sentinel:// with the password apart (REDIS_PASSWORD): the password is not echoed', async () => {
    const r = await runMain(['status'], { REDIS_URL: 'redis+sentinel://app:inurl@127.0.0.1:1/mymaster', REDIS_PASSWORD: 'apart' });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/inurl|apart/);
    expect(r.stderr.trim()).toMatch(/^task-swarm: cannot reach Redis at redis\+sentinel:\/\/127\.0\.0\.1:1\/mymaster/);
  });

  it('the help shows the sentinel and TLS flags, one line each', async () => {
    const r = await runMain(['--help']);
    for (const flag of ['--redis-sentinels <h:p,h:p>', '--redis-name <name>', '--redis-tls-ca <path>', '--redis-tls-cert <path>', '--redis-tls-key <path>']) {
      expect(r.stdout).toContain(flag);
    }
  });
});

describe('the server version, checked at start-up', () => {
  it('reads the local server\'s INFO as it is and accepts it', async () => {
    const redis = server.client();
    const info = await redis.info('server');
    const v = checkServerVersion(info);
    expect(v.server).toBe('redis');
    expect(v.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(await checkServer(redis)).toEqual(v);
  });

  it('a worker, a monitor and a client start against it (each checks it)', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o });
    const m = new Monitor({ redis: o });
    const c = new Client({ redis: o });
    cleanup.push(() => c.close(), () => m.stop(), () => w.stop());
    await w.start();
    await m.start();
    expect(await c.submit('none')).toBeTypeOf('string');
  });

  it('refuses Redis before 7.0 with an UnsupportedServerError saying what is needed', () => {
    const old = '# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n';
    expect(() => checkServerVersion(old, 'Redis at redis://h:1')).toThrow(UnsupportedServerError);
    expect(() => checkServerVersion(old, 'Redis at redis://h:1')).toThrow('Redis at redis://h:1 runs Redis 6.2.14; task-swarm needs Redis >= 7.0.0 or Valkey >= 7.2.0');
    let thrown: unknown;
    try {
      checkServerVersion(old);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(UnsupportedServerError);
    expect((thrown as UnsupportedServerError).code).toBe('ERR_SERVER_VERSION');
  });

  it('Valkey: its own version counts (it also reports a Redis version)', () => {
    expect(parseServerVersion('# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n')).toEqual({ server: 'valkey', version: '8.0.1' });
    expect(checkServerVersion('redis_version:7.2.4\r\nvalkey_version:7.2.5\r\n')).toEqual({ server: 'valkey', version: '7.2.5' });
    expect(() => checkServerVersion('redis_version:7.2.4\r\nvalkey_version:7.1.0\r\n')).toThrow(/runs Valkey 7\.1\.0/);
  });

  it('a version it cannot read, or none, is refused too', () => {
    expect(() => checkServerVersion('redis_version:banana\r\n')).toThrow(/cannot read the version "banana"/);
    expect(() => checkServerVersion('# Server\r\n')).toThrow(/names no redis_version or valkey_version/);
    expect(checkServerVersion('redis_version:7.0.0\r\n').version).toBe('7.0.0');
    expect(checkServerVersion('redis_version:10.1\r\n').version).toBe('10.1');
  });
});
