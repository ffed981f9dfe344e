/**
 * `client.wait` for a task after a Redis fault, that says what it saw when the task does not end
 * in time: the task's hash as the client reads it then, and what the components logged. A wait
 * that times out under a full CI run (a task after a restart without data has been seen to take
 * more than 20 s there, and about 4 s alone) then leaves the evidence in CI's output.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { TimeoutError, type Client, type TaskInfo } from '../../src/index.js';
import { lastConnectionError, type Connection } from '../../src/redis.js';

export async function waitExplained(client: Client, id: string, timeout: number, logs: readonly string[] = []): Promise<TaskInfo> {
  const started = Date.now();
  try {
    return await client.wait(id, { timeout });
  } catch (e) {
    if (!(e instanceof TimeoutError)) throw e;
    const now = await client.get(id).then(
      (t) => JSON.stringify(t),
      (err: unknown) => `unreadable: ${String(err)}`,
    );
    throw new Error(`task "${id}" did not end within ${timeout} ms (waited ${Date.now() - started} ms); its hash now: ${now}\nlogs:\n${logs.slice(-60).join('\n')}`, { cause: e });
  }
}

/**
 * What each sentinel on `ports` says the primary `name` is (SENTINEL get-master-addr-by-name),
 * and whether it is failing over, one line each: each asked once, with a deadline, on a
 * connection of its own (`options`: TLS). For a failure message: it never throws.
 */
export async function sentinelsSay(ports: number[], name: string, options: RedisOptions = {}, timeoutMs = 2000): Promise<string> {
  const one = async (port: number) => {
    const s = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: timeoutMs, commandTimeout: timeoutMs, ...options });
    s.on('error', () => {});
    const started = Date.now();
    try {
      await s.connect();
      const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', name)) as [string, string] | null;
      const flat = (await s.call('SENTINEL', 'master', name)) as string[];
      const m = Object.fromEntries(flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]]] : [])));
      return `sentinel ${port}: primary ${addr ? addr.join(':') : 'none'} (flags ${m.flags}, failover-state ${m['failover-state'] ?? '-'}, config-epoch ${m['config-epoch']}; answered in ${Date.now() - started} ms)`;
    } catch (e) {
      return `sentinel ${port}: no answer (${e instanceof Error ? e.message : String(e)}; after ${Date.now() - started} ms)`;
    } finally {
      s.disconnect();
    }
  };
  return (await Promise.all(ports.map(one))).join('\n');
}

/** A client's command connection as it is now: its status, the address it is connected to, and the last error its socket reported. */
export function clientConnection(client: Client): string {
  const conn = (client as unknown as { redis: Connection }).redis;
  if (conn instanceof Cluster) return `a cluster connection, status ${conn.status}`;
  const e = lastConnectionError(conn);
  const remote = conn.stream?.remotePort ? `${conn.stream.remoteAddress}:${conn.stream.remotePort}` : 'none';
  return `client connection status ${conn.status}, socket to ${remote}, last connection error: ${e ? e.message.trim() : 'none'}`;
}
