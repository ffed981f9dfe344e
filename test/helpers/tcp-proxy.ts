/**
 * A TCP proxy a test controls, between one node and what it talks to (Redis, or a peer's ping
 * port). `partition()` makes the link silent in both directions without closing it, as a real
 * network partition does (the node's requests hang, then resume on `heal()`); `reset()` closes
 * every connection and refuses new ones until `heal()`, as a crashed host or a firewall reject;
 * `delay(ms)` holds every chunk, each way, for `ms` before passing it on, as a slow link does
 * (so a reply can be on its way while the node acts), until `heal()`; `hold(match)` holds what
 * the target sends on the connections whose first bytes from the node match (a Redis client's
 * first command names it: CLIENT SETNAME), open ones and ones made later, while everything else
 * flows, until `heal()`.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  address: string;
  partition(): void;
  reset(): void;
  delay(ms: number): void;
  /** hold the target's replies on the connections whose first bytes `match` (and on those made later); how many open ones it holds */
  hold(match: (hello: string) => boolean): number;
  heal(): void;
  close(): Promise<void>;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  let mode: 'open' | 'silent' | 'refuse' = 'open';
  let latency = 0;
  const pairs = new Set<[Socket, Socket]>();
  /** per node-side socket, the first bytes it sent (up to 1 KiB) */
  const hellos = new WeakMap<Socket, string>();
  /** what hold() matches: connections made after it are held too, once their first bytes match */
  const holds: ((hello: string) => boolean)[] = [];
  // Each direction is a queue: a chunk is due `latency` after it arrived, and never before the
  // chunk ahead of it, so the bytes keep their order when the latency changes (a shorter delay
  // or heal() while chunks are held would otherwise let later ones overtake them, and shuffle
  // the protocol stream, as no network does); `end` follows the data it came after.
  const forward = (from: Socket, to: Socket) => {
    const held: { chunk: Buffer | null; due: number }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const pass = (chunk: Buffer | null) => {
      if (to.destroyed) return;
      if (chunk === null) to.end();
      else to.write(chunk);
    };
    const pump = () => {
      timer = undefined;
      const now = Date.now();
      while (held.length && held[0]!.due <= now) pass(held.shift()!.chunk);
      if (held.length) timer = setTimeout(pump, held[0]!.due - now);
    };
    const arrive = (chunk: Buffer | null) => {
      if (latency === 0 && held.length === 0) return pass(chunk);
      held.push({ chunk, due: Date.now() + latency });
      if (!timer) pump();
    };
    from.on('data', (chunk: Buffer) => arrive(chunk));
    from.on('end', () => arrive(null));
    from.on('close', () => {
      clearTimeout(timer);
      held.length = 0;
    });
  };
  // (no Nagle on either side, as ioredis's own sockets: with it, a small write waited for the
  // peer's delayed ACK, about 40 ms a round trip through the proxy)
  const server: Server = createServer({ noDelay: true }, (client) => {
    if (mode === 'refuse') return client.destroy();
    const upstream = connect({ host: targetHost, port: targetPort, noDelay: true });
    const pair: [Socket, Socket] = [client, upstream];
    hellos.set(client, '');
    const listen = (chunk: Buffer) => {
      const hello = hellos.get(client)! + chunk.toString('latin1');
      hellos.set(client, hello.slice(0, 1024));
      if (holds.some((match) => match(hello))) upstream.pause();
      if (hello.length >= 1024) client.off('data', listen);
    };
    client.on('data', listen);
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
    hold(match: (hello: string) => boolean) {
      holds.push(match);
      let n = 0;
      for (const [client, upstream] of pairs) {
        if (!match(hellos.get(client) ?? '')) continue;
        upstream.pause();
        n++;
      }
      return n;
    },
    heal() {
      mode = 'open';
      latency = 0;
      holds.length = 0;
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

/**
 * `call` made while every chunk takes 400 ms each way: it reaches Redis and runs, and its
 * connection is closed while the reply is on its way back; ioredis sends it again at the reconnect.
 */
export async function replyLost<T>(proxy: TcpProxy, call: () => Promise<T>): Promise<{ result: T } | { error: unknown }> {
  proxy.delay(400);
  const outcome = call().then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  await new Promise((r) => setTimeout(r, 650));
  proxy.reset();
  await new Promise((r) => setTimeout(r, 100));
  proxy.heal();
  return outcome;
}

/** a proxy to the test's Redis on this host (`server.port`), its close registered in `cleanup` */
export async function proxyToRedis(server: { port: number }, cleanup: (() => Promise<unknown>)[]): Promise<TcpProxy> {
  const p = await startProxy('127.0.0.1', server.port);
  cleanup.push(() => p.close());
  return p;
}

/** a proxy that cuts the connections whose first bytes match, and those made like them until healed */
export async function cuttingProxy(port: number) {
  const pairs = new Set<{ client: Socket; up: Socket; hello: string }>();
  let cutMatch: ((hello: string) => boolean) | undefined;
  const srv = createServer({ noDelay: true }, (client) => {
    const up = connect({ host: '127.0.0.1', port, noDelay: true });
    const p = { client, up, hello: '' };
    pairs.add(p);
    const drop = () => {
      pairs.delete(p);
      client.destroy();
      up.destroy();
    };
    client.on('error', drop).on('close', drop);
    up.on('error', drop).on('close', drop);
    client.on('data', (chunk: Buffer) => {
      if (p.hello.length < 1024) p.hello += chunk.toString('latin1');
      if (cutMatch?.(p.hello)) return drop();
      up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => client.write(chunk));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as { port: number }).port,
    cut(match: (hello: string) => boolean) {
      cutMatch = match;
      for (const p of pairs) if (match(p.hello)) {
        p.client.destroy();
        p.up.destroy();
      }
    },
    heal() {
      cutMatch = undefined;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const p of pairs) {
          p.client.destroy();
          p.up.destroy();
        }
        srv.close(() => r());
      }),
  };
}
