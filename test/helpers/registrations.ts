/**
 * A worker's registration as Redis runs it, for the tests of a worker starting or leaving
 * while its commands are on their way: MONITOR tells which partitions' `register` FCALLs
 * (`add`, `remove`) have run, and `traces` lists what in Redis still names a worker.
 */
import { monitorRedis } from './monitor.js';
import type { RedisServer } from './redis-server.js';

export interface Registrations {
  /** the partitions (their `workers` keys) whose registration Redis has run (a first FCALL refused for want of the library is sent again) */
  added: Set<string>;
  /** those whose deregistration it has run */
  removed: Set<string>;
  close(): Promise<void>;
}

export async function watchRegistrations(server: RedisServer): Promise<Registrations> {
  const added = new Set<string>();
  const removed = new Set<string>();
  const watch = await monitorRedis(server, (args) => {
    if (args[0]?.toLowerCase() !== 'fcall' || !args[1]?.endsWith('_register')) return;
    if (args.includes('add')) added.add(args[3]!);
    if (args.includes('remove')) removed.add(args[3]!);
  });
  return {
    added,
    removed,
    close: async () => watch.stop(),
  };
}

/** every key of the server that names `address`: a set's member, a hash's field, a sorted set's member */
export async function traces(server: RedisServer, address: string): Promise<string[]> {
  const admin = server.client();
  try {
    const found: string[] = [];
    for (const k of await admin.keys('*')) {
      const type = await admin.type(k);
      if (type === 'set' && (await admin.sismember(k, address))) found.push(k);
      if (type === 'hash' && (await admin.hexists(k, address))) found.push(k);
      if (type === 'zset' && (await admin.zscore(k, address)) !== null) found.push(k);
    }
    return found;
  } finally {
    admin.disconnect();
  }
}
