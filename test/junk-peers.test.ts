/**
 * Junk where peers meet: members of `workers` (anything that reaches Redis can write them),
 * bytes on a worker's ping port (anything that reaches the host can send them) and addresses in
 * the configuration. Nothing read from Redis or the network may crash a process or hold it:
 * invalid peers are skipped and logged once, the ping server bounds what a client can hold.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { ConfigError } from '../src/errors.js';
import { formatAddress, isUnspecified, parseAddress } from '../src/address.js';
import { pingPeer } from '../src/peer-prober.js';
import { CONNECTION_DEADLINE_MS, MAX_CONNECTIONS, startPeerServer } from '../src/peer-server.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { spawnWorker, type WorkerProcess } from './helpers/processes.js';

let server: RedisServer;
const cleanup: (() => Promise<unknown> | unknown)[] = [];
beforeAll(async () => {
  server = await startRedis();
});
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});
afterAll(async () => {
  await server.stop();
});

// ------------------------------------------------------------------------------ generated junk

const validHost = fc.constantFrom('127.0.0.1', '10.1.2.3', 'peer-1', 'example.com', '[::1]', '[fd00::7]');
const validPort = fc.integer({ min: 1, max: 65535 });
const badPort = fc.oneof(
  fc.integer({ min: 65536, max: 2 ** 40 }).map(String),
  fc.constant('0'),
  validPort.map((n) => `-${n}`),
  validPort.map((n) => `0${n}`),
  validPort.map((n) => `${n}.5`),
  fc.constantFrom(' 80', '80 ', '0x50', '1e3', 'http', '６０００', '8\n0'),
);
/** Each member below is invalid by construction (the comment says why), never by our parser's say-so. */
const junkMember: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.tuple(validHost, badPort).map(([h, p]) => `${h}:${p}`), // port out of range or not a number
  validHost, // no port at all
  validHost.map((h) => `${h}:`), // no port after the colon
  validPort.map((p) => `:${p}`), // empty host
  fc.integer({ min: 300, max: 12_000 }).chain((n) => fc.constantFrom(`${'a'.repeat(n)}:6000`, `10.0.0.1:${'1'.repeat(n)}`, 'x'.repeat(n))), // huge
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from([0]), b])), // binary: a NUL is in no host
  fc.ipV6().chain((v6) => fc.constantFrom(`[${v6}]`, `[${v6}]:`, `[${v6}:80`, `[${v6}]x:80`, `[${v6}]:99999`)), // IPv6 without a usable port
  fc.constantFrom('[nothing]:80', '[]:80', '[::1', '::1', '::6000', 'fe80::zz:80', '[::1]]:80'), // IPv6 shapes that are not addresses
  fc.constantFrom('0.0.0.0:6000', '[::]:6000', '[0:0:0:0:0:0:0:0]:80'), // "every interface" is no peer
  fc.constantFrom(' 127.0.0.1:80', '127.0.0.1 :80', 'peer\n1:80', 'peer 1:80', 'a..b:80', '-a:80', `${'a'.repeat(64)}:80`, '999.1.1.1:80', '1.2.3:80'), // not a host name
  fc.constantFrom('nonsense', 'host:', ':80', 'host:99999', ''),
);

const SEED = Number(process.env.JUNK_SEED ?? Date.now() % 1_000_000);
const sample = <T>(arb: fc.Arbitrary<T>, n: number) => fc.sample(arb, { seed: SEED, numRuns: n });
const asText = (m: string | Buffer) => (typeof m === 'string' ? m : m.toString());

// ------------------------------------------------------------------------------ addresses

describe('peer addresses: one parser for what is read and what is configured', () => {
  it(`refuses every generated junk member with a reason (seed ${SEED})`, () => {
    fc.assert(
      fc.property(junkMember, (m) => {
        const p = parseAddress(asText(m));
        return !p.ok && p.reason.length > 0;
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('reads back every address it formats: IPv4, host names, IPv6 (in brackets)', () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()).filter((h) => !isUnspecified(h));
    fc.assert(
      fc.property(host, validPort, (h, p) => {
        const text = formatAddress(h, p);
        expect(parseAddress(text, { strict: true })).toEqual({ ok: true, host: h, port: p });
      }),
      { seed: SEED, numRuns: 1000 },
    );
    expect(formatAddress('::1', 6000)).toBe('[::1]:6000');
    // the bare form older versions wrote for an IPv6 host is still read from `workers`
    expect(parseAddress('::1:6000')).toEqual({ ok: true, host: '::1', port: 6000 });
  });

  it('a bad `advertise` or `host` is a ConfigError naming the option and the value', () => {
    const refused = (o: Record<string, unknown>) => {
      try {
        new Worker(o);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error(`accepted ${JSON.stringify(o)}`);
    };
    expect(refused({ advertise: 'host:99999' })).toBe('Worker.advertise must be "host:port" (IPv6: "[addr]:port"), got "host:99999": port 99999 is over 65535');
    expect(refused({ advertise: 'host' })).toMatch(/^Worker\.advertise .* got "host": no ":port"$/);
    expect(refused({ advertise: 'host:' })).toMatch(/got "host:": no port$/);
    expect(refused({ advertise: ':6000' })).toMatch(/got ":6000": empty host$/);
    expect(refused({ advertise: '::1:6000' })).toMatch(/got "::1:6000": an IPv6 host goes in brackets/);
    expect(refused({ advertise: '0.0.0.0:6000' })).toMatch(/got "0\.0\.0\.0:6000": 0\.0\.0\.0 means "every interface"/);
    expect(refused({ host: 'not a host' })).toMatch(/^Worker\.host must be an IP address or a host name, got "not a host"/);
    expect(refused({ host: '[::1]' })).toMatch(/^Worker\.host .* got "\[::1\]"/);
    for (const advertise of ['[::1]:6000', 'peer-1.example.com:80', '10.0.0.1:1', 'localhost:65535']) {
      expect(new Worker({ advertise }).address).toBe(advertise);
    }
    for (const host of ['0.0.0.0', '::', 'localhost', 'fd00::7']) expect(new Worker({ host }).config.host).toBe(host);
  });
});

describe('pingPeer', () => {
  it('resolves false at once, without throwing, for every kind of invalid address', async () => {
    const junk = [...sample(junkMember, 300).map(asText), 'host:99999', 'nonsense', 'host:', ':80', 'x'.repeat(10_000), '\u0000\uffff:1'];
    const t0 = Date.now();
    const results = await Promise.all(junk.map((a) => pingPeer(a, 5000)));
    expect(results.every((r) => r === false)).toBe(true);
    // no socket, no lookup: the 5 s timeout never ran
    expect(Date.now() - t0).toBeLessThan(1000);
    for (const notText of [undefined, null, 6000, {}]) expect(await pingPeer(notText as unknown as string, 100)).toBe(false);
  });
});

// ------------------------------------------------------------------------------ junk in `workers`

interface MonitorProcess {
  proc: ChildProcess;
  /** the messages it logged (JSON log lines) */
  messages: string[];
}

const MONITOR_FIXTURE = fileURLToPath(new URL('./fixtures/monitor-process.ts', import.meta.url));

/** A monitor child process logging everything, as JSON lines, so the test can read its states and warnings. */
async function spawnMonitor(options: Record<string, unknown>): Promise<MonitorProcess> {
  const proc = spawn(process.execPath, ['--import', 'tsx', MONITOR_FIXTURE], {
    env: { ...process.env, MONITOR_OPTIONS: JSON.stringify(options), TASK_SWARM_LOG: 'debug', TASK_SWARM_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const m: MonitorProcess = { proc, messages: [] };
  let buf = '';
  let ready = false;
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'READY') ready = true;
      else if (line.startsWith('{')) m.messages.push(String((JSON.parse(line) as { msg?: unknown }).msg));
    }
  });
  await until(() => ready || proc.exitCode !== null, 'the monitor process to start', 15_000);
  if (!ready) throw new Error(`monitor process exited (${proc.exitCode}) before it was ready`);
  return m;
}

const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;
const junkLogs = (lines: string[]) => lines.filter((l) => l.includes('ignoring a member of'));

describe('junk in `workers`', () => {
  it(`a worker and a monitor skip it, log each junk member once, survive Redis loss and keep working (seed ${SEED})`, async () => {
    const o = server.options();
    const key = `${o.keyPrefix}workers`;
    const admin = server.client();
    const junk = sample(junkMember, 40);
    await admin.sadd(key, ...junk);
    // As Redis sees them (binary members read back as text), read before the monitor starts: it
    // takes members silent for 2 x taskTimeout out of the list, which on a loaded machine can be
    // before both processes are up
    const bad = new Set(await admin.smembers(key));
    // Lists re-read often, so that "once" means once over many refreshes (not below the 250 ms
    // Redis retry: both re-probe every fetchWorkerInterval while Redis is away, which restarts it).
    const fast = { fetchWorkerInterval: 400, pingTimeout: 300 };
    const m = await spawnMonitor({ redis: o, taskTimeout: 2000, checkTaskInterval: 200, ...fast });
    cleanup.push(() => m.proc.kill('SIGKILL'));
    const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100, ...fast });
    cleanup.push(() => w.kill('SIGKILL'));

    expect(bad.size).toBeGreaterThan(0);
    await until(() => junkLogs(w.lines).length >= bad.size && junkLogs(m.messages).length >= bad.size, 'each junk member logged', 5000);
    await new Promise((r) => setTimeout(r, 1500)); // several more refreshes of both lists
    // once each, whatever the number of refreshes, and saying what is wrong
    expect(junkLogs(w.lines)).toHaveLength(bad.size);
    expect(junkLogs(m.messages)).toHaveLength(bad.size);
    for (const l of junkLogs(w.lines)) expect(l).toMatch(/^WARN ignoring a member of \S+workers that is not a peer address "host:port": ".*"(\.\.\. \(\d+ characters\))?: \S.{4,}$/);
    expect(Math.max(...junkLogs(w.lines).map((l) => l.length))).toBeLessThan(500); // a 10 KB member is not a 10 KB line

    await server.kill('SIGKILL');
    let restarted = false;
    cleanup.push(() => restarted || server.start()); // the next tests need it, whatever happens here
    // The worker knows no valid peer: a lone worker keeps its quorum. The monitor reaches the worker.
    await w.waitFor(/^STATE "redisDown"$/, 5000);
    await until(() => m.messages.includes('state "waiting"'), 'the monitor to wait for Redis', 5000);
    await new Promise((r) => setTimeout(r, 1500)); // several probes past pingTimeout
    expect(alive(w.proc)).toBe(true);
    expect(alive(m.proc)).toBe(true);
    expect(w.lines).not.toContain('STATE "halted"');

    await server.start();
    restarted = true;
    const workerDown = w.lines.lastIndexOf('STATE "redisDown"');
    await until(() => w.lines.slice(workerDown).some((l) => l.startsWith('STATE {"connected":')), 'the worker to reconcile', 10_000);
    const down = m.messages.lastIndexOf('state "waiting"');
    // grace (one taskTimeout), then sweeping again
    await until(() => m.messages.slice(down).some((x) => x.startsWith('state {"active":')), 'the monitor to sweep again', 10_000);
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('echo', { after: 'the outage' });
    expect(await c.wait(id, { timeout: 10_000 })).toMatchObject({ state: 'END', outcome: 'succeeded', result: { after: 'the outage' } });
    expect(alive(w.proc)).toBe(true);
    expect(alive(m.proc)).toBe(true);
  });
});

// ------------------------------------------------------------------------------ junk on the ping port

/** Connects and reports how long until the server closed the connection (or gives up after `capMs`). */
function connection(port: number, act: (s: Socket) => void, capMs = 10_000): Promise<{ ms: number; closedByServer: boolean; got: string }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let got = '';
    const s = connect({ host: '127.0.0.1', port }, () => act(s));
    const cap = setTimeout(() => {
      s.destroy();
      resolve({ ms: Date.now() - t0, closedByServer: false, got });
    }, capMs);
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(cap);
      resolve({ ms: Date.now() - t0, closedByServer: true, got });
    });
  });
}

describe('junk on the ping port', () => {
  let w: WorkerProcess;
  let port: number;
  beforeAll(async () => {
    w = await spawnWorker({ port: 0, redis: server.options() });
    port = Number(w.address.split(':').at(-1));
  });
  afterAll(async () => {
    await w.kill('SIGKILL');
  });
  const promptPing = async () => {
    const t0 = Date.now();
    expect(await pingPeer(w.address, 1000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(300);
  };
  const slack = 700;

  it('random bytes, half-open and silent sockets, and a trickler are all cut within the deadline', async () => {
    const bytes = sample(fc.uint8Array({ minLength: 1, maxLength: 4096 }), 30);
    const trickle = (s: Socket) => {
      let i = 0;
      const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('PING 0123456789abcdef'.charAt(i++ % 21))), 250);
    };
    const [trickler, silent, halfOpen, ...random] = await Promise.all([
      connection(port, trickle),
      connection(port, () => {}),
      connection(port, (s) => s.end('PING 0123')),
      ...bytes.map((b) => connection(port, (s) => s.write(b))),
    ]);
    // An idle timeout never fires for a client that sends a byte every 250 ms: the deadline does.
    expect(trickler.closedByServer).toBe(true);
    expect(trickler.ms).toBeLessThan(CONNECTION_DEADLINE_MS + slack);
    expect(silent).toMatchObject({ closedByServer: true, got: '' });
    expect(silent.ms).toBeLessThan(CONNECTION_DEADLINE_MS + slack);
    expect(halfOpen).toMatchObject({ closedByServer: true, got: '' });
    for (const r of random) {
      expect(r.closedByServer).toBe(true);
      expect(r.ms).toBeLessThan(CONNECTION_DEADLINE_MS + slack);
      expect(r.got).toBe(''); // junk never gets a PONG
    }
    expect(alive(w.proc)).toBe(true);
    await promptPing();
  });

  it(`more connections than maxConnections: the excess is closed on accept, the rest at the deadline`, async () => {
    const extra = 40;
    const flood = await Promise.all(Array.from({ length: MAX_CONNECTIONS + extra }, () => connection(port, () => {})));
    const early = flood.filter((r) => r.closedByServer && r.ms < CONNECTION_DEADLINE_MS / 2);
    const late = flood.filter((r) => r.closedByServer && r.ms >= CONNECTION_DEADLINE_MS / 2 && r.ms < CONNECTION_DEADLINE_MS + slack);
    expect(early.length).toBeGreaterThanOrEqual(extra);
    expect(early.length + late.length).toBe(flood.length);
    expect(alive(w.proc)).toBe(true);
    await promptPing();
  });

  it('a server error after listening is reported and the server keeps serving (an error with no listener would end the process)', async () => {
    // A real accept error cannot be caused reliably (libuv absorbs EMFILE with a reserve fd), so
    // the error path is reached by emitting what Node emits then: an 'error' on the server.
    const reports: [string, number][] = [];
    let address = '';
    const s = await startPeerServer('127.0.0.1', 0, () => address, undefined, (e, n) => reports.push([e.message, n]));
    address = `127.0.0.1:${s.port}`;
    cleanup.push(() => s.close());
    const acceptError = () => Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', syscall: 'accept' });
    s.server.emit('error', acceptError());
    s.server.emit('error', acceptError());
    expect(reports).toEqual([['accept EMFILE', 1]]); // a storm of errors is one report a second
    expect(await pingPeer(address, 500)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    s.server.emit('error', acceptError());
    expect(reports).toEqual([
      ['accept EMFILE', 1],
      ['accept EMFILE', 2],
    ]);
    expect(await pingPeer(address, 500)).toBe(true);
  });
});
