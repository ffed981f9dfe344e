/**
 * The peer layer: the ping server every worker runs, the prober, authentication with a shared
 * secret, advertised addresses, the lone-worker rule and the pruning of dead workers.
 */
import { connect, createServer } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client, Monitor, Worker } from '../src/index.js';
import { startPeerServer, type PeerServer } from '../actors/peer-server.js';
import { pingPeer, probePeers } from '../actors/peer-prober.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { startProxy } from './helpers/tcp-proxy.js';
import { spawnWorker } from './helpers/processes.js';

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
