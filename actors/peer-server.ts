/**
 * The ping server every worker runs on its host:port, for peers deciding, when Redis is out of
 * reach, whether they are partitioned. One line in (`PING <nonce>`), one line out, then close.
 * Without a secret it answers `PONG` and says nothing else; with one it answers
 * `PONG <hmac(secret, nonce + " " + advertised address)>`, so a stranger can neither answer for
 * this peer nor learn anything from the port.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { ListenError } from '../src/errors.js';

export function pongFor(secret: string, nonce: string, address: string): string {
  return createHmac('sha256', secret).update(`${nonce} ${address}`).digest('hex');
}

export interface PeerServer {
  /** the port actually bound (useful with port 0) */
  port: number;
  close(): Promise<void>;
}

export function startPeerServer(host: string, port: number, address: () => string, secret?: string): Promise<PeerServer> {
  const server: Server = createServer((socket) => {
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    let buf = '';
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      if (buf.length > 256) return socket.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const m = /^PING ([0-9a-f]{8,64})$/.exec(buf.slice(0, nl).trim());
      if (!m) return socket.destroy();
      socket.end(secret ? `PONG ${pongFor(secret, m[1]!, address())}\n` : 'PONG\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(new ListenError(`cannot listen on ${host}:${port} for peer pings: ${e.code === 'EADDRINUSE' ? 'port already in use' : e.message}`, e));
    });
    server.listen(port, host, () => {
      const a = server.address();
      resolve({
        port: typeof a === 'object' && a ? a.port : port,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
