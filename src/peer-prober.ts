/**
 * Pings every known peer at once, each with a short timeout, and counts who answered. A peer
 * counts only if its answer proves it (with a secret: the HMAC of our nonce and its address).
 * Addresses come from Redis, where anything can be written: a ping is total, and an address it
 * cannot use is a peer it did not reach.
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { parseAddress } from './address.js';
import { pongFor } from './peer-server.js';

/** an answer is one short line; a peer that sends more without a newline is not answering */
const MAX_ANSWER = 256;

export function pingPeer(address: string, timeoutMs: number, secret?: string): Promise<boolean> {
  const target = parseAddress(address);
  if (!target.ok) return Promise.resolve(false);
  return new Promise((resolve) => {
    let done = false;
    let socket: Socket | undefined;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    try {
      const nonce = randomBytes(16).toString('hex');
      const expected = secret ? `PONG ${pongFor(secret, nonce, address)}` : 'PONG';
      const s = connect({ host: target.host, port: target.port }, () => s.write(`PING ${nonce}\n`));
      socket = s;
      let buf = '';
      s.on('data', (c) => {
        buf += c.toString('latin1');
        const nl = buf.indexOf('\n');
        if (nl >= 0) finish(buf.slice(0, nl).trim() === expected);
        else if (buf.length > MAX_ANSWER) finish(false);
      });
      s.on('error', () => finish(false));
      s.on('close', () => finish(false));
    } catch {
      finish(false);
    }
  });
}

export async function probePeers(peers: string[], timeoutMs: number, secret?: string): Promise<{ reached: number; total: number }> {
  const results = await Promise.all(peers.map((p) => pingPeer(p, timeoutMs, secret)));
  return { reached: results.filter(Boolean).length, total: peers.length };
}
