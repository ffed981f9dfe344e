/**
 * The server a component talks to must run the scripts: Redis 7.0 or later, or Valkey 7.2 or
 * later (Valkey's first release, which answers as Redis 7.2 does). Checked at start-up from
 * INFO server, so an old server fails with one clear error instead of a script error mid-run.
 */
import { Cluster, type Redis } from 'ioredis';
import { atKey, primaries, type Connection } from './redis.js';
import { askPrimaries } from './each-primary.js';
import { selectRefusal, unlessRefused } from './db-select.js';
import { RedisUnavailableError, TaskSwarmError, UnsupportedServerError } from './errors.js';

export const MIN_SERVER_VERSIONS = { redis: '7.0.0', valkey: '7.2.0' } as const;

export interface ServerVersion {
  server: keyof typeof MIN_SERVER_VERSIONS;
  version: string;
}

/** What the start-up check found: the version, and a warning when Redis may evict the swarm's keys. */
export interface ServerCheck extends ServerVersion {
  eviction?: string;
}

/** `redis_version` / `valkey_version` from INFO text; Valkey also reports a Redis version, its own wins */
export function parseServerVersion(info: string): ServerVersion | undefined {
  const field = (name: string) => new RegExp(`^${name}:([^\\r\\n]*)`, 'm').exec(info)?.[1]?.trim();
  const valkey = field('valkey_version');
  if (valkey) return { server: 'valkey', version: valkey };
  const redis = field('redis_version');
  return redis ? { server: 'redis', version: redis } : undefined;
}

/** -1, 0 or 1 as `a` is below, equal to or above `b` (dotted numbers; a missing part is 0) */
function compare(a: string, b: string): number {
  const pa = a.split('.').map((p) => parseInt(p, 10));
  const pb = b.split('.').map((p) => parseInt(p, 10));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (Number.isNaN(x) || Number.isNaN(y)) return Number.NaN;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The server's version from INFO text, or an UnsupportedServerError saying what is needed. */
export function checkServerVersion(info: string, where = 'Redis'): ServerVersion {
  const v = parseServerVersion(info);
  const need = `Redis >= ${MIN_SERVER_VERSIONS.redis} or Valkey >= ${MIN_SERVER_VERSIONS.valkey}`;
  if (!v) throw new UnsupportedServerError(`${where}: INFO server names no redis_version or valkey_version; task-swarm needs ${need}`);
  const c = compare(v.version, MIN_SERVER_VERSIONS[v.server]);
  if (Number.isNaN(c)) throw new UnsupportedServerError(`${where}: cannot read the version ${JSON.stringify(v.version)} of ${v.server}; task-swarm needs ${need}`);
  if (c < 0) throw new UnsupportedServerError(`${where} runs ${v.server === 'redis' ? 'Redis' : 'Valkey'} ${v.version}; task-swarm needs ${need}`);
  return v;
}

/**
 * A replica refuses every write (READONLY), and a writable one would keep them to itself: a
 * component pointed at one is refused at start-up too, with a RedisUnavailableError (a monitor started there and failed every
 * sweep after; a worker or the CLI said "cannot reach" or "unexpected error: READONLY").
 */
export function checkServerRole(info: string, where = 'Redis'): void {
  const field = (name: string) => new RegExp(`^${name}:([^\\r\\n]*)`, 'm').exec(info)?.[1]?.trim();
  if (field('role') !== 'slave') return;
  const host = field('master_host');
  const of = host ? ` of ${host}:${field('master_port') ?? '?'}` : '';
  // (RedisUnavailableError, not UnsupportedServerError: a replica may be promoted, and a client
  // keeps an unsupported server's refusal for good)
  throw new RedisUnavailableError(`${where} is a replica${of}: every component writes, so give it the primary (or the sentinels that name it)`);
}

/** INFO memory's maxmemory_policy when it is one that may evict keys (any but noeviction), else undefined */
export function evictionPolicy(info: string): string | undefined {
  const policy = /^maxmemory_policy:([^\r\n]*)/m.exec(info)?.[1]?.trim();
  return policy === undefined || policy === 'noeviction' ? undefined : policy;
}

/**
 * A warning when Redis may evict keys (any maxmemory-policy but noeviction), else undefined.
 * Evicted, a task's hash or queue entry is lost without a word; the worker list (allkeys-*) reads
 * as dead workers, and the outage hold's key (volatile-*, which take the keys with a TTL: it, the
 * claim receipts, the rate windows) as no outage, so running tasks are requeued while they run; an
 * evicted rate window lets more tasks start than its limit. So every other policy is warned of,
 * as BullMQ does, not refused (a managed Redis may not let its user change it).
 */
export function evictionWarning(info: string, where = 'Redis'): string | undefined {
  const policy = evictionPolicy(info);
  if (!policy) return undefined;
  const limit = /^maxmemory:([^\r\n]*)/m.exec(info)?.[1]?.trim();
  const when = limit === '0' ? 'once a maxmemory is set' : 'when it is full';
  return `${where} has maxmemory-policy ${policy}: ${when} it evicts keys: an evicted task is lost without a word, and an evicted worker list or outage hold has running tasks requeued while they run. Set it to noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf): a full Redis then refuses new tasks instead`;
}

/** INFO server's `run_id`: one per server process, new at each start (a restart, a failover's new primary) */
export function runIdOf(info: string): string | undefined {
  return /^run_id:([0-9a-f]+)\s*$/m.exec(info)?.[1];
}

/**
 * The run ids of the servers that hold `homes` (a key of each partition of the swarm: on a
 * Cluster each may be on a node of its own), or undefined when one names none (a proxy, a
 * managed service that hides it). The monitor tells by it whether Redis came back as the same
 * processes, their data whole (machines/monitor.ts, REDIS_BACK).
 */
export async function serverRunIds(conn: Connection, homes: string[]): Promise<string | undefined> {
  const ids = await Promise.all((conn instanceof Cluster ? homes : homes.slice(0, 1)).map(async (home) => runIdOf(String(await atKey(conn, home, 'INFO', 'server')))));
  return ids.every((id) => id !== undefined) ? ids.join(',') : undefined;
}

/**
 * INFO server (and replication) on `conn`, checked: on a Cluster, on each of its primaries (any
 * of them may serve the swarm's slot after a failover or a migration). A user whose ACL refuses
 * INFO is told so (it needs +info). `home`: a key of the swarm, where a Cluster is asked whether
 * it is ready.
 */
export async function checkServer(conn: Connection, where = 'Redis', home?: string): Promise<ServerCheck> {
  // (a Cluster knows its nodes, and which are primaries, once ready: the ping waits for that.
  // Before, ioredis may list its seeds as primaries, replicas among them. A PING alone goes to
  // a node drawn at random: a silent one of another shard failed the start)
  if (primaries(conn).length === 0 || (conn instanceof Cluster && conn.status !== 'ready')) await (home === undefined ? conn.ping() : atKey(conn, home, 'PING'));
  const nodes = primaries(conn);
  if (nodes.length === 0) throw new RedisUnavailableError(`${where}: the cluster named no primary`);
  if (nodes.length === 1) return checkNode(nodes[0]!, where);
  // A primary that does not answer (another shard down: killed, cut off, failing over) is not
  // this swarm's concern until it serves the swarm, and would otherwise keep every component
  // from starting for as long as it is down: it is passed over (src/each-primary.ts). One that
  // answers and fails the check fails it.
  const checks = await askPrimaries(nodes, (n) => checkNode(n, `${where} (node ${n.options.host}:${n.options.port})`));
  const refused = checks.find((r): r is PromiseRejectedResult => r.status === 'rejected' && r.reason instanceof TaskSwarmError);
  if (refused) throw refused.reason;
  const passed = checks.filter((r): r is PromiseFulfilledResult<ServerCheck> => r.status === 'fulfilled').map((r) => r.value);
  if (!passed.length) throw (checks[0] as PromiseRejectedResult).reason;
  // (each primary keeps its own policy: one that may evict is one shard's tasks at risk)
  const evicting = passed.flatMap((c) => (c.eviction ? [c.eviction] : []));
  const { eviction: _, ...version } = passed[0]!;
  return evicting.length ? { ...version, eviction: evicting.join('; ') } : version;
}

async function checkNode(redis: Redis, where: string): Promise<ServerCheck> {
  const info = async (...sections: string[]) => {
    try {
      return await unlessRefused(redis, where, () => redis.info(...sections));
    } catch (e) {
      const message = (e as Error).message ?? String(e);
      if (/NOPERM/.test(message)) throw new UnsupportedServerError(`${where}: cannot read the server's version (INFO refused: ${message}); give the ACL user +info`, e);
      throw e;
    }
  };
  const server = await info('server');
  // (the connection has connected, and selected its db, by now)
  const refused = selectRefusal(redis, where);
  if (refused) throw refused;
  const version = checkServerVersion(server, where);
  // (one INFO for both sections: Redis 7.0, checked just above, takes several)
  const more = await info('replication', 'memory');
  checkServerRole(more, where);
  const eviction = evictionWarning(more, where);
  return eviction ? { ...version, eviction } : version;
}
