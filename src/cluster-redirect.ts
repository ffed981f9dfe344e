/**
 * A MOVED that ioredis hands back instead of following.
 *
 * ioredis follows a MOVED for a lone command, and for a pipeline only when every command in it
 * failed alike or merely read. A pipeline that also ran a keyless command (the worker's wait
 * sends CLIENT ID before its block; atKey sends its command behind an EXISTS) comes back with
 * the MOVED errors as replies, and ioredis does not learn from them where the slot went: its
 * slot table keeps the old node, and every later pipeline for the slot goes there again (a
 * blocking connection, which sends nothing else, for good). After a failover or a moved slot,
 * the caller asks here, learns where the slot is, and sends its pipeline again.
 */
import { Cluster, ReplyError } from 'ioredis';
import type { Connection } from './redis.js';

/**
 * Is `e` a Cluster node's refusal of a call it did not run (MOVED, ASK: another node serves the
 * slot; TRYAGAIN: the slot is moving; CLUSTERDOWN)? Such a call ran nowhere by that answer.
 */
export function isClusterRedirect(e: unknown): boolean {
  return e instanceof ReplyError && /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /.test((e as Error).message);
}

/**
 * True when `error` is a MOVED on a Cluster: by then `conn` has learnt where `key`'s slot is
 * (a lone command on the key, which ioredis follows and records), so a pipeline sent again
 * goes there. False for anything else, which the caller handles as before.
 */
export async function learntMove(conn: Connection, key: string, error: Error | null | undefined): Promise<boolean> {
  if (!(conn instanceof Cluster) || !error || !error.message.startsWith('MOVED ')) return false;
  await conn.exists(key);
  return true;
}

/** how many times a pipeline is sent again after a MOVED: a slot moved twice in a row, at most */
export const MOVED_RETRIES = 3;
