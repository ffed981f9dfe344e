/**
 * Moving a swarm to another primary of its Cluster: its slot, every key in it, in one step
 * (src/lua/admin/move-slot.lua says why a migration key by key is not safe for a running swarm).
 *
 * The steps, as redis-cli's resharding takes them but with the keys moved at once: a lock in
 * the slot, on the source (one move of a swarm at a time: a second one's cleanup could delete
 * what the first just copied); the target marks the slot IMPORTING (it then takes the keys) and
 * drops what it held in it (admin/purge-slot.lua: a failed move's copies); the source runs
 * move-slot.lua (every key copied, then deleted there, the slot given to the target; a copy
 * that fails leaves the source as it was, and the target's copies are dropped); the target
 * takes the slot (CLUSTER SETSLOT NODE,
 * which makes its claim win across the cluster), and every other primary is told. Between the
 * last two, a command for the slot may bounce between source and target (MOVED): clients
 * follow redirections for a while (src/redis.ts), and the target's claim comes a round trip
 * later. The source holds the slot's keys while they are copied: a swarm of many keys waits
 * that long (about a second per hundred thousand keys here).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis, ReplyError } from 'ioredis';
import { resolveRedisConfig, type RedisOptions } from './config.js';
import { ConfigError, RedisUnavailableError, StateError } from './errors.js';
import { quote } from './quote.js';
import { partitionKeys, partitionPrefix } from './partitions.js';
import { isClusterRedirect } from './cluster-redirect.js';

const MOVE = readFileSync(new URL('./lua/admin/move-slot.lua', import.meta.url), 'utf8');
const PURGE = readFileSync(new URL('./lua/admin/purge-slot.lua', import.meta.url), 'utf8');

interface ClusterNode {
  id: string;
  host: string;
  port: number;
  primary: boolean;
  slots: [number, number][];
}

/** CLUSTER NODES, read: every node's id, address, role and slot ranges */
function parseNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const [id, addr, flags, , , , , , ...slots] = line.split(' ');
      const m = /^(.*):(\d+)@\d+/.exec(addr!);
      return {
        id: id!,
        host: m?.[1] ?? '',
        port: Number(m?.[2]),
        primary: flags!.split(',').includes('master') && !flags!.includes('fail'),
        slots: slots
          .filter((s) => !s.startsWith('['))
          .map((s) => {
            const [a, b] = s.split('-').map(Number);
            return [a!, b ?? a!] as [number, number];
          }),
      };
    });
}

export interface SlotMove {
  slot: number;
  from: string;
  to: string;
  /** keys moved (0 when the swarm was there already) */
  keys: number;
}

/** ms the move's lock outlives the steps before its script (each a round trip or two) */
const LOCK_MARGIN_MS = 10_000;

/**
 * Move the swarm that `redis` (a Cluster form) names to the primary at `to` (`{ host, port }`),
 * all its keys at once: with `redis.partitions`, the partition `o.partition` (default 0).
 * Resolves with what moved; a swarm already there moves nothing.
 *
 * One move of a swarm at a time: a lock key in its slot, taken on the source, refuses a second
 * (StateError). A target that does not take every key fails the move (RedisUnavailableError)
 * with the swarm whole on the source, still serving it; what the target took is deleted there.
 */
export async function moveSwarmSlot(redis: RedisOptions, to: { host: string; port: number }, o: { timeoutMs?: number; partition?: number } = {}): Promise<SlotMove> {
  const c = resolveRedisConfig(redis);
  if (!c.cluster) throw new ConfigError('moveSwarmSlot: redis must name a Cluster (redis.cluster or a redis+cluster:// url)');
  const partition = o.partition ?? 0;
  if (!Number.isInteger(partition) || partition < 0 || partition >= c.partitions) {
    throw new ConfigError(`moveSwarmSlot: partition must be an integer from 0 to ${c.partitions - 1} (redis.partitions is ${c.partitions}), got ${quote(o.partition)}`);
  }
  const timeoutMs = o.timeoutMs ?? 60_000;
  const opened: Redis[] = [];
  // `patient`: no time limit on its commands (the source, whose move script takes as long as the copy)
  const open = async (n: { host: string; port: number }, patient = false): Promise<Redis> => {
    const r = new Redis({
      host: n.host,
      port: n.port,
      username: c.username,
      password: c.password,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      ...(patient ? {} : { commandTimeout: timeoutMs + 5000 }),
      ...(c.tls ? { tls: { ...c.tls } } : {}),
    });
    let cause: Error | undefined;
    r.on('error', (e: Error) => (cause ??= e));
    opened.push(r);
    await r.connect().catch((e: Error) => {
      throw new RedisUnavailableError(`moveSwarmSlot: cannot reach ${n.host}:${n.port}: ${(cause ?? e).message}`, cause ?? e);
    });
    return r;
  };
  try {
    // the layout, from the first node given that answers (as the cluster clients ask)
    let first: Redis | undefined;
    let unreachable: unknown;
    for (const seed of c.cluster) {
      try {
        first = await open(seed);
        break;
      } catch (e) {
        unreachable = e;
      }
    }
    if (!first) throw unreachable;
    const key = partitionKeys(c)[partition]!.newQueue;
    const slot = Number(await first.cluster('KEYSLOT', key));
    const nodes = parseNodes((await first.cluster('NODES')) as string);
    const source = nodes.find((n) => n.primary && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!source) throw new RedisUnavailableError(`moveSwarmSlot: no primary serves slot ${slot} (the cluster is not ok)`);
    const target = nodes.find((n) => n.primary && n.port === to.port && (n.host === to.host || (to.host === 'localhost' && n.host === '127.0.0.1')));
    if (!target) throw new ConfigError(`moveSwarmSlot: ${to.host}:${to.port} is not a primary of this cluster (its primaries: ${nodes.filter((n) => n.primary).map((n) => `${n.host}:${n.port}`).join(', ')})`);
    const at = (n: ClusterNode) => `${n.host}:${n.port}`;
    if (target.id === source.id) return { slot, from: at(source), to: at(target), keys: 0 };
    const [src, dst] = await Promise.all([open(source, true), open(target)]);

    // (in the slot moved: the partition's prefix)
    const lock = `${partitionPrefix(c.keyPrefix, partition, c.partitions)}move-slot`;
    const token = randomBytes(8).toString('hex');
    const taken = await src.set(lock, token, 'PX', timeoutMs + LOCK_MARGIN_MS, 'NX').catch((e: Error) => {
      // (a move that just ended gave the slot away: the layout read above is already old)
      if (e.message.startsWith('MOVED ')) throw new StateError(`moveSwarmSlot: ${at(source)} no longer serves slot ${slot} (another move just ended?): nothing moved`);
      throw e;
    });
    if (taken !== 'OK') throw new StateError(`moveSwarmSlot: another move of this swarm is under way (its lock ${lock} is held on ${at(source)}): nothing moved`);
    try {
      await dst.cluster('SETSLOT', slot, 'IMPORTING', source.id);
      // what a move that failed or died halfway may have left on the target (a key deleted on
      // the source since would otherwise come back with this move)
      await purge(dst, lock, slot);
      let moved: number;
      try {
        moved = Number(await src.eval(MOVE, 1, lock, slot, target.host, target.port, target.id, timeoutMs, c.username ?? '', c.password ?? '', token));
      } catch (e) {
        // An error the script raised (a batch the target refused) deleted nothing here and gave
        // nothing away: the copies the target took are deleted, and it imports no more. A lost
        // connection says nothing of whether the script ran: the target is left as it is.
        const ran = e instanceof ReplyError && !isClusterRedirect(e);
        const cleaned = ran && (await purge(dst, lock, slot).then(() => dst.cluster('SETSLOT', slot, 'STABLE')).then(() => true, () => false));
        throw new RedisUnavailableError(
          `moveSwarmSlot: the keys of slot ${slot} could not all be copied to ${at(target)}: ${(e as Error).message.trim()}; ${ran ? `nothing left ${at(source)}, which still serves the swarm` : `${at(source)} did not answer: see CLUSTER NODES for which node serves slot ${slot} now`}${cleaned ? '' : `; ${at(target)} may keep copies of some in slot ${slot}, which it imports: the next move deletes them`}`,
          e,
        );
      }
      await dst.cluster('SETSLOT', slot, 'NODE', target.id);
      // the others learn it by gossip too; told, they redirect at once
      for (const n of nodes.filter((x) => x.primary && x.id !== source.id && x.id !== target.id)) {
        await open(n)
          .then((r) => r.cluster('SETSLOT', slot, 'NODE', target.id))
          .catch(() => {});
      }
      return { slot, from: at(source), to: at(target), keys: moved };
    } finally {
      // (gone with the keys when they moved; here when they did not)
      await src.eval(RELEASE, 1, lock, token).catch(() => {});
    }
  } finally {
    for (const r of opened) r.disconnect();
  }
}

/** the lock, deleted when it is still ours */
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/** admin/purge-slot.lua on `node`, which imports `slot` (ASKING: it takes commands for the slot then) */
async function purge(node: Redis, key: string, slot: number): Promise<number> {
  const replies = await node.pipeline().asking().eval(PURGE, 1, key, slot).exec();
  const [err, n] = replies?.[1] ?? [new Error('purge-slot: no reply')];
  if (err) throw err;
  return Number(n);
}
