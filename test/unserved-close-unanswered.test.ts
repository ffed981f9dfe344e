/**
 * The look a submit makes at what the live workers serve (src/served-functions.ts) is no call of
 * the user's: close() must not wait longer for it than for its own QUIT. Redis that stops
 * answering (here: a proxy that holds what the client writes, as a frozen Redis or a cut link
 * would) right after a submit resolved left the look unanswered, and close() waited a second
 * for it, then a second more for its QUIT: twice what it took when the look had been answered.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { Client, Worker, type LoggerLike } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => (server = s));
const quiet: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} };

/** a TCP proxy to the server that, once `hold()` is called, passes nothing the client writes */
async function holdingProxy(): Promise<{ port: number; hold: () => void }> {
  let holding = false;
  const proxy = net.createServer((c) => {
    const up = net.connect(server.port, server.host);
    c.on('data', (d) => holding || up.write(d));
    up.on('data', (d) => c.write(d));
    c.on('error', () => {});
    up.on('error', () => {});
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise((r) => proxy.close(r)));
  return { port: (proxy.address() as net.AddressInfo).port, hold: () => (holding = true) };
}

describe('close() right after a submit, Redis answering nothing more', () => {
  it('takes no longer for the look the submit made (a bound of its QUIT, about a second)', async () => {
    const redis = server.options();
    const worker = new Worker({ port: 0, redis, logger: quiet });
    worker.addTaskFunction('resize', (t) => t.data);
    await worker.start();
    cleanup.push(() => worker.stop());
    const { port, hold } = await holdingProxy();
    const client = new Client({ redis: { ...redis, host: '127.0.0.1', port }, logger: quiet });
    cleanup.push(() => client.close());
    // (the server checked and the library loaded: the submit below is one round trip)
    await client.submit('resize', 0);
    // held from the step the submit resolves in: its look, written as it resolved, waits in the proxy
    await client.submit('thumb', 1).then(hold);
    const t0 = Date.now();
    await client.close();
    expect(Date.now() - t0).toBeLessThan(1600);
  });
});
