/**
 * The peer layer: the ping server every worker runs, the prober, authentication with a shared
 * secret, advertised addresses and how the default one is chosen, connection names, the
 * lone-worker rule and the pruning of dead workers.
 */
import { connect, createServer } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { startPeerServer, type PeerServer } from '../src/peer-server.js';
import { pingPeer, probePeers } from '../src/peer-prober.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';
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

async function peer(secret?: string, advertised?: () => string): Promise<PeerServer & { address: string }> {
  let address = '';
  const s = await startPeerServer('127.0.0.1', 0, advertised ?? (() => address), secret);
  address = `127.0.0.1:${s.port}`;
  cleanup.push(() => s.close());
  return { ...s, address };
}

/** what the port says to an arbitrary line */
function say(port: number, line: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port }, () => sock.write(line));
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.on('close', () => resolve(out));
    sock.on('error', () => resolve(out));
  });
}

describe('ping server and prober', () => {
  it('without a secret the port answers PONG to a ping and says nothing else to anything else', async () => {
    const p = await peer();
    expect(await pingPeer(p.address, 500)).toBe(true);
    expect(await say(p.port, 'PING 0123456789abcdef\n')).toBe('PONG\n');
    expect(await say(p.port, 'INFO\n')).toBe('');
    expect(await say(p.port, 'GET / HTTP/1.1\r\n\r\n')).toBe('');
  });

  it('counts who answered, in parallel, within the timeout', async () => {
    const a = await peer();
    const b = await peer();
    const silent = createServer((sock) => sock.resume()); // accepts, reads, never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => silent.close(r)));
    const t0 = Date.now();
    const r = await probePeers([a.address, b.address, `127.0.0.1:${(silent.address() as { port: number }).port}`, '127.0.0.1:1'], 300);
    expect(r).toEqual({ reached: 2, total: 4 });
    expect(Date.now() - t0).toBeLessThan(1500); // one timeout, not one per peer
  });

  it('with a secret, only a peer that knows it (and answers for its own address) counts', async () => {
    const real = await peer('s3cret');
    expect(await pingPeer(real.address, 500, 's3cret')).toBe(true);
    expect(await pingPeer(real.address, 500, 'other')).toBe(false);
    // An impostor that answers PONG to everything is not counted.
    const impostor = await peer();
    expect(await pingPeer(impostor.address, 500, 's3cret')).toBe(false);
    // A peer that knows the secret cannot answer for another address (relayed answers fail).
    const relay = await peer('s3cret', () => '10.0.0.9:6000');
    expect(await pingPeer(relay.address, 500, 's3cret')).toBe(false);
    // And the answer reveals nothing reusable: it is bound to the prober's nonce.
    const a1 = await say(real.port, 'PING 00000000000000000000000000000001\n');
    const a2 = await say(real.port, 'PING 00000000000000000000000000000002\n');
    expect(a1).toMatch(/^PONG [0-9a-f]{64}\n$/);
    expect(a1).not.toBe(a2);
  });

  it('a worker can advertise an address other than the one it listens on (NAT, proxies)', async () => {
    const o = server.options();
    const w = new Worker({ port: 0, redis: o });
    cleanup.push(() => w.stop());
    await w.start();
    const listenPort = Number(w.address.split(':')[1]);
    const front = await startProxy('127.0.0.1', listenPort);
    cleanup.push(() => front.close());
    const w2 = new Worker({ port: 0, redis: o, advertise: front.address });
    cleanup.push(() => w2.stop());
    await w2.start();
    expect(w2.address).toBe(front.address);
    const c = server.client();
    expect((await c.smembers(`${o.keyPrefix}workers`)).sort()).toEqual([front.address, w.address].sort());
    expect(await pingPeer(front.address, 500)).toBe(true);
    front.partition();
    expect(await pingPeer(front.address, 300)).toBe(false);
  });
});

describe('quorum edge cases', () => {
  it('a lone worker (no other peer known) keeps its tasks through a Redis outage', async () => {
    const o = server.options();
    const w = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100, pingTimeout: 300 });
    cleanup.push(() => w.kill('SIGKILL'));
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const id = await c.submit('sleep', { ms: 3000 });
    await w.waitFor(new RegExp(`^STARTED ${id} 1$`));
    server.freeze();
    try {
      await w.waitFor(/^STATE "redisDown"$/, 5000);
    } finally {
      server.thaw();
    }
    expect((await c.wait(id, { timeout: 10_000 })).outcome).toBe('succeeded');
    expect(w.lines.filter((l) => l.startsWith('ABORTED'))).toEqual([]);
    expect(w.lines).not.toContain('STATE "halted"');
  });

  it('a worker that died is taken out of `workers` by a monitor, so peers stop counting it', async () => {
    const o = server.options();
    const dead = await spawnWorker({ port: 0, redis: o, heartbeatInterval: 100 });
    const alive = new Worker({ port: 0, redis: o, heartbeatInterval: 100 });
    cleanup.push(() => alive.stop());
    await alive.start();
    const m = new Monitor({ redis: o, taskTimeout: 500, checkTaskInterval: 100 });
    cleanup.push(() => m.stop());
    await m.start();
    const c = server.client();
    expect((await c.smembers(`${o.keyPrefix}workers`)).sort()).toEqual([alive.address, dead.address].sort());
    await dead.kill('SIGKILL');
    await until(async () => (await c.smembers(`${o.keyPrefix}workers`)).length === 1, 'dead worker pruned', 5000);
    expect(await c.smembers(`${o.keyPrefix}workers`)).toEqual([alive.address]);
  });
});

/** this machine's first non-loopback address of a family, if it has one */
function routable(family: 'IPv4' | 'IPv6'): string | undefined {
  const all = Object.values(networkInterfaces()).flat();
  return all.find((i) => i && i.family === family && !i.internal && !i.address.startsWith('fe80:'))?.address;
}

/** a logger that keeps the warnings */
function warnings(): { warns: string[]; logger: { debug(): void; info(): void; warn(...a: unknown[]): void; error(): void } } {
  const warns: string[] = [];
  return { warns, logger: { debug() {}, info() {}, warn: (...a: unknown[]) => void warns.push(a.map(String).join(' ')), error() {} } };
}

const LOOPBACK_WARNING = /peers on other hosts cannot reach this worker, so partition detection will not work across hosts/;

describe('the default peer address: the interface that reaches Redis', () => {
  const ip = routable('IPv4');
  let remote: RedisServer | undefined;
  beforeAll(async () => {
    if (ip) remote = await startRedis({ bind: [ip] });
  });
  afterAll(async () => {
    await remote?.stop();
  });

  it("a worker without host or advertise listens and registers on its address towards Redis, not 127.0.0.1", async (ctx) => {
    if (!ip || !remote) return ctx.skip('this machine has no non-loopback IPv4 address to reach a Redis on');
    const o = remote.options({ host: ip });
    const { warns, logger } = warnings();
    const w = new Worker({ port: 0, redis: o, logger });
    cleanup.push(() => w.stop());
    await w.start();
    const port = Number(w.address.split(':')[1]);
    expect(w.address).toBe(`${ip}:${port}`);
    expect(await remote.client().smembers(`${o.keyPrefix}workers`)).toEqual([w.address]);
    expect(await pingPeer(w.address, 500)).toBe(true);
    expect(await pingPeer(`127.0.0.1:${port}`, 500)).toBe(false); // it listens there, and only there
    expect(warns.filter((l) => LOOPBACK_WARNING.test(l))).toEqual([]);
  });

  it('host 0.0.0.0 listens on every interface and advertises the one that reaches Redis', async (ctx) => {
    if (!ip || !remote) return ctx.skip('this machine has no non-loopback IPv4 address to reach a Redis on');
    const w = new Worker({ host: '0.0.0.0', port: 0, redis: remote.options({ host: ip }) });
    cleanup.push(() => w.stop());
    await w.start();
    const port = Number(w.address.split(':')[1]);
    expect(w.address).toBe(`${ip}:${port}`);
    expect(await pingPeer(w.address, 500)).toBe(true);
    expect(await pingPeer(`127.0.0.1:${port}`, 500)).toBe(true);
  });

  it('a worker on a loopback address with Redis on another address warns once, loudly, saying what to set', async (ctx) => {
    if (!ip || !remote) return ctx.skip('this machine has no non-loopback IPv4 address to reach a Redis on');
    const { warns, logger } = warnings();
    const w = new Worker({ host: '127.0.0.1', port: 0, redis: remote.options({ host: ip }), logger, heartbeatInterval: 100 });
    cleanup.push(() => w.stop());
    await w.start();
    await new Promise((r) => setTimeout(r, 300)); // a few heartbeats: still once
    const said = warns.filter((l) => LOOPBACK_WARNING.test(l));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(w.address);
    expect(said[0]).toContain(`Redis is reached at ${ip}`);
    expect(said[0]).toMatch(/set host .* or advertise/);
  });

  it('with Redis on loopback too, the default is 127.0.0.1 and nothing is said', async () => {
    const { warns, logger } = warnings();
    const w = new Worker({ port: 0, redis: server.options(), logger });
    cleanup.push(() => w.stop());
    await w.start();
    expect(w.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(warns.filter((l) => LOOPBACK_WARNING.test(l))).toEqual([]);
  });

  it('over IPv6 the address is the IPv6 one, in brackets', async (ctx) => {
    const ip6 = routable('IPv6');
    if (!ip6) return ctx.skip('this machine has no non-loopback, non-link-local IPv6 address');
    const r6 = await startRedis({ bind: [ip6] });
    cleanup.push(() => r6.stop());
    const o = r6.options({ host: ip6 });
    const w = new Worker({ port: 0, redis: o });
    cleanup.push(() => w.stop());
    await w.start();
    expect(w.address).toMatch(new RegExp(`^\\[${ip6}\\]:\\d+$`));
    expect(await r6.client().smembers(`${o.keyPrefix}workers`)).toEqual([w.address]);
    expect(await pingPeer(w.address, 500)).toBe(true);
  });
});

describe('connection names', () => {
  it('two workers on one machine name their connections apart (stop unblocks waits by name)', async () => {
    const o = server.options();
    const [a, b] = await Promise.all([spawnWorker({ port: 0, redis: o }), spawnWorker({ port: 0, redis: o })]);
    cleanup.push(() => a.kill('SIGKILL'), () => b.kill('SIGKILL'));
    const c = server.client();
    const names = async () =>
      ((await c.call('CLIENT', 'LIST')) as string)
        .split('\n')
        .map((l) => / name=(\S+)/.exec(l)?.[1] ?? '')
        .filter((n) => n.startsWith('task-swarm:'));
    const of = (w: WorkerProcess, all: string[]) => all.filter((n) => n.includes(`-${w.proc.pid}-`));
    // command, subscriber and the blocking connection of the idle wait, for each
    const all: string[] = await until(async () => {
      const n = await names();
      return n.length >= 6 ? n : undefined;
    }, 'both workers connected');
    expect(all.filter((n, i) => all.indexOf(n) !== i)).toEqual([]); // no name twice
    expect([of(a, all).length, of(b, all).length]).toEqual([3, 3]); // each names its own, by its pid
    for (const n of [...of(a, all), ...of(b, all)]) expect(n).toMatch(/^task-swarm:[A-Za-z0-9._-]+-\d+-[0-9a-f]{8}(\/\d+)?:(command|subscriber|blocking)$/);
  });
});
