/**
 * A TCP proxy a test controls, between one node and what it talks to (Redis, or a peer's ping
 * port). `partition()` makes the link silent in both directions without closing it, as a real
 * network partition does (the node's requests hang, then resume on `heal()`); `reset()` closes
 * every connection and refuses new ones until `heal()`, as a crashed host or a firewall reject.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  address: string;
  partition(): void;
  reset(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: 'open' | 'silent' | 'refuse' = 'open';
  const pairs = new Set<[Socket, Socket]>();
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
    client.pipe(upstream);
    upstream.pipe(client);
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
    heal() {
      mode = 'open';
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
