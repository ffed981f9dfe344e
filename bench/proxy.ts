/**
 * A counting TCP proxy between worker processes and Redis, run as its own child process
 * (forked by bench/scenarios/cost.ts) so that counting never shares an event loop with the
 * workers or the bench. Every chunk read from a client is one request flight (a separate
 * write by the client, or several that reached the proxy together); every chunk read from
 * Redis is one reply flight. Messages:
 *   parent -> { cmd: 'reset' } | { cmd: 'stats' } | { cmd: 'exit' }
 *   proxy  -> { type: 'listening', port } | { type: 'stats', ... }
 * argv: redis host, redis port.
 */
import { createServer, connect, type Socket } from 'node:net';

const [host = '127.0.0.1', portArg = '6379'] = process.argv.slice(2);
const upstreamPort = Number(portArg);

let requests = 0;
let replies = 0;
let requestBytes = 0;
let replyBytes = 0;
let connections = 0;

const sockets = new Set<Socket>();
const server = createServer((client) => {
  connections++;
  client.setNoDelay(true);
  const upstream = connect({ host, port: upstreamPort });
  upstream.setNoDelay(true);
  sockets.add(client);
  sockets.add(upstream);
  client.on('data', (d) => {
    requests++;
    requestBytes += d.length;
    upstream.write(d);
  });
  upstream.on('data', (d) => {
    replies++;
    replyBytes += d.length;
    client.write(d);
  });
  const close = () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'reset') {
    requests = replies = requestBytes = replyBytes = connections = 0;
    process.send?.({ type: 'reset' });
  } else if (m.cmd === 'stats') {
    process.send?.({ type: 'stats', requests, replies, requestBytes, replyBytes, connections });
  } else if (m.cmd === 'exit') {
    for (const s of sockets) s.destroy();
    server.close();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.send?.({ type: 'listening', port: typeof a === 'object' && a ? a.port : 0 });
});
