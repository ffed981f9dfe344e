/**
 * Pings every known peer at once, each with a short timeout, and counts who answered. A peer
 * counts only if its answer proves it (with a secret: the HMAC of our nonce and its address).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { pongFor } from './peer-server.js';

export function pingPeer(address: string, timeoutMs: number, secret?: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  const nonce = randomBytes(16).toString('hex');
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    const socket = connect({ host, port }, () => socket.write(`PING ${nonce}\n`));
    let buf = '';
    socket.on('data', (c) => {
      buf += c.toString('latin1');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl).trim();
      finish(secret ? line === `PONG ${pongFor(secret, nonce, address)}` : line === 'PONG');
    });
    socket.on('error', () => finish(false));
    socket.on('close', () => finish(false));
  });
}

export async function probePeers(peers: string[], timeoutMs: number, secret?: string): Promise<{ reached: number; total: number }> {
  const results = await Promise.all(peers.map((p) => pingPeer(p, timeoutMs, secret)));
  return { reached: results.filter(Boolean).length, total: peers.length };
}
