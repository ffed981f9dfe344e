/**
 * A Redis of its own with tasks queued, and a proxy in front of it for the worker under test
 * (test/helpers/tcp-proxy.ts: hold its replies, cut its links), for the tests of lanes.
 */
import { Redis } from 'ioredis';
import { Client } from '../../src/index.js';
import { startRedis } from './redis-server.js';
import { startProxy, type TcpProxy } from './tcp-proxy.js';
import { submitInBatches } from './task-batches.js';

export interface ProxiedSwarm {
  /** Redis's options (the worker's go through `proxy.port`) */
  o: { host: string; port: number; keyPrefix: string } & Record<string, unknown>;
  proxy: TcpProxy;
  /** the ids queued, per function, in the order given */
  ids: Record<string, string[]>;
  /** a connection to Redis, with the swarm's key prefix */
  r: Redis;
}

/** `tasks`: how many of each function to queue; `redis`: options beside the server's (partitions, keyPrefix) */
export async function proxiedSwarm(cleanup: (() => unknown)[], tasks: Record<string, number>, redis: Record<string, unknown> = {}): Promise<ProxiedSwarm> {
  const server = await startRedis();
  cleanup.push(() => server.stop());
  const o = { ...server.options(), ...redis };
  const proxy = await startProxy(o.host, o.port);
  cleanup.push(() => proxy.close());
  const c = new Client({ redis: o });
  cleanup.push(() => c.close());
  const ids: Record<string, string[]> = {};
  for (const [fn, n] of Object.entries(tasks)) ids[fn] = await submitInBatches(c, fn, n);
  const r = new Redis({ host: o.host, port: o.port, keyPrefix: o.keyPrefix });
  cleanup.push(() => r.disconnect());
  return { o, proxy, ids, r };
}

/** the worker's command replies held for `ms`, then let through at once */
export async function holdReplies(proxy: TcpProxy, ms: number): Promise<number> {
  const held = proxy.hold((hello) => hello.includes(':command'));
  await new Promise((r) => setTimeout(r, ms));
  proxy.heal();
  return held;
}
