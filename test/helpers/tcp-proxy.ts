/**
 * A TCP proxy a test controls, between one node and what it talks to (Redis, or a peer's ping
 * port). `partition()` makes the link silent in both directions without closing it, as a real
 * network partition does (the node's requests hang, then resume on `heal()`); `reset()` closes
 * every connection and refuses new ones until `heal()`, as a crashed host or a firewall reject;
 * `delay(ms)` holds every chunk, each way, for `ms` before passing it on, as a slow link does
 * (so a reply can be on its way while the node acts), until `heal()`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  address: string;
  partition(): void;
  reset(): void;
  delay(ms: number): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: 'open' | 'silent' | 'refuse' = 'open';
  let latency = 0;
  const pairs = new Set<[Socket, Socket]>();
  // Every chunk waits the same `latency`, so chunks keep their order (timers of equal delay
  // fire in the order they were set); `end` follows the data it came after.
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk: Buffer) => {
      if (latency === 0) to.write(chunk);
      else setTimeout(() => to.destroyed || to.write(chunk), latency);
    });
    from.on('end', () => {
      if (latency === 0) to.end();
      else setTimeout(() => to.end(), latency);
    });
  };
  const server: Server = createServer((client) => {
    if (mode === 'refuse') return client.destroy();
    const upstream = connect({ host: targetHost, port: targetPort });
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    forward(client, upstream);
    forward(upstream, client);
    if (mode === 'silent') {
      client.pause();
      upstream.pause();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    partition() {
      mode = 'silent';
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    reset() {
      mode = 'refuse';
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      pairs.clear();
    },
    delay(ms: number) {
      latency = ms;
    },
    heal() {
      mode = 'open';
      latency = 0;
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
    },
    close: () =>
      new Promise<void>((r) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => r());
      }),
  };
}
