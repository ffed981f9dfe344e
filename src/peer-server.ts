/**
 * The ping server every worker runs on its host:port, for peers deciding, when Redis is out of
 * reach, whether they are partitioned. One line in (`PING <nonce>`), one line out, then close.
 * Without a secret it answers `PONG` and says nothing else; with one it answers
 * `PONG <hmac(secret, nonce + " " + advertised address)>`, so a stranger can neither answer for
 * this peer nor learn anything from the port.
 *
 * Anyone who can reach the port can write to it, so nothing a client does may hold the server
 * or end the process: every connection has a deadline from accept, their number is bounded,
 * and a server error after listening is reported, not thrown.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { formatAddress } from './address.js';
import { ListenError } from './errors.js';

/**
 * A ping is one line each way, answered within a round trip; a connection still open this long
 * after accept (a client trickling bytes, or one that never writes) is dropped, whatever it sends.
 */
export const CONNECTION_DEADLINE_MS = 1500;
/**
 * Connections held at once, past which new ones are closed on accept. Every node of a swarm
 * probes every other at the same instant when Redis dies, so this must exceed the number of
 * nodes (a dropped probe counts as an unreached peer); the deadline is what keeps junk from
 * holding these slots for long.
 */
export const MAX_CONNECTIONS = 256;
/** the longest line a ping can be */
const MAX_LINE = 256;
/** server errors are reported at most this often: an accept error can repeat as fast as the loop spins */
const REPORT_EVERY_MS = 1000;

export function pongFor(secret: string, nonce: string, address: string): string {
  return createHmac('sha256', secret).update(`${nonce} ${address}`).digest('hex');
}

export interface PeerServer {
  /** the port actually bound (useful with port 0) */
  port: number;
  /** the listening server (the tests reach its error path through it) */
  server: Server;
  close(): Promise<void>;
}

/**
 * `onError` hears of server errors after listening (an accept failing: EMFILE, ENOBUFS...), with
 * how many occurred since the last report; the server goes on serving.
 */
export function startPeerServer(
  host: string,
  port: number,
  address: () => string,
  secret?: string,
  onError: (e: Error, count: number) => void = () => {},
): Promise<PeerServer> {
  const server: Server = createServer((socket) => {
    const deadline = setTimeout(() => socket.destroy(), CONNECTION_DEADLINE_MS);
    socket.on('close', () => clearTimeout(deadline));
    socket.on('error', () => socket.destroy());
    let buf = '';
    socket.on('data', (chunk) => {
      buf += chunk.toString('latin1');
      if (buf.length > MAX_LINE) return socket.destroy();
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const m = /^PING ([0-9a-f]{8,64})$/.exec(buf.slice(0, nl).trim());
      if (!m) return socket.destroy();
      socket.end(secret ? `PONG ${pongFor(secret, m[1]!, address())}\n` : 'PONG\n');
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  return new Promise((resolve, reject) => {
    let listening = false;
    let lastReport = 0;
    let unreported = 0;
    // Never `once`: an 'error' with no listener is thrown, and would end the process.
    server.on('error', (e: NodeJS.ErrnoException) => {
      if (listening) {
        unreported++;
        if (Date.now() - lastReport < REPORT_EVERY_MS) return;
        lastReport = Date.now();
        const count = unreported;
        unreported = 0;
        try {
          onError(e, count);
        } catch {
          // a failing report must not turn a survivable error into a crash
        }
        return;
      }
      reject(new ListenError(`cannot listen on ${formatAddress(host, port)} for peer pings: ${e.code === 'EADDRINUSE' ? 'port already in use' : e.message}`, e));
    });
    server.listen(port, host, () => {
      listening = true;
      const a = server.address();
      resolve({
        port: typeof a === 'object' && a ? a.port : port,
        server,
        close: () => new Promise<void>((r) => server.close(() => r())),
      });
    });
  });
}
