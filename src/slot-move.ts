/**
 * Moving a swarm to another primary of its Cluster: its slot, every key in it, in one step
 * (src/lua/admin/move-slot.lua says why a migration key by key is not safe for a running swarm).
 *
 * The steps, as redis-cli's resharding takes them but with the keys moved at once: the target
 * marks the slot IMPORTING (it then takes the keys); the source runs move-slot.lua (the keys
 * go, the slot is given to the target); the target takes the slot (CLUSTER SETSLOT NODE,
 * which makes its claim win across the cluster), and every other primary is told. Between the
 * last two, a command for the slot may bounce between source and target (MOVED): clients
 * follow redirections for a while (src/redis.ts), and the target's claim comes a round trip
 * later. The source holds the slot's keys while they are copied: a swarm of many keys waits
 * that long (about a second per hundred thousand keys here).
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { resolveRedisConfig, type RedisOptions } from './config.js';
import { ConfigError, RedisUnavailableError } from './errors.js';
import { partitionKeys } from './partitions.js';

const SCRIPT = readFileSync(new URL('./lua/admin/move-slot.lua', import.meta.url), 'utf8');

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

/**
 * Move the swarm that `redis` (a Cluster form) names to the primary at `to` (`{ host, port }`),
 * all its keys at once: with `redis.partitions`, the partition `o.partition` (default 0).
 * Resolves with what moved; a swarm already there moves nothing.
 */
export async function moveSwarmSlot(redis: RedisOptions, to: { host: string; port: number }, o: { timeoutMs?: number; partition?: number } = {}): Promise<SlotMove> {
  const c = resolveRedisConfig(redis);
  if (!c.cluster) throw new ConfigError('moveSwarmSlot: redis must name a Cluster (redis.cluster or a redis+cluster:// url)');
  const partition = o.partition ?? 0;
  if (!Number.isInteger(partition) || partition < 0 || partition >= c.partitions) {
    throw new ConfigError(`moveSwarmSlot: partition must be an integer from 0 to ${c.partitions - 1} (redis.partitions is ${c.partitions}), got ${JSON.stringify(o.partition)}`);
  }
  const node = (host: string, port: number) => {
    const r = new Redis({ host, port, username: c.username, password: c.password, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...(c.tls ? { tls: { ...c.tls } } : {}) });
    r.on('error', () => {});
    return r;
  };
  const seed = c.cluster[0]!;
  const first = node(seed.host, seed.port);
  const opened: Redis[] = [first];
  try {
    await first.connect().catch((e: Error) => {
      throw new RedisUnavailableError(`moveSwarmSlot: cannot reach ${seed.host}:${seed.port}: ${e.message}`, e);
    });
    const key = partitionKeys(c)[partition]!.newQueue;
    const slot = Number(await first.cluster('KEYSLOT', key));
    const nodes = parseNodes((await first.cluster('NODES')) as string);
    const source = nodes.find((n) => n.primary && n.slots.some(([a, b]) => slot >= a && slot <= b));
    if (!source) throw new RedisUnavailableError(`moveSwarmSlot: no primary serves slot ${slot} (the cluster is not ok)`);
    const target = nodes.find((n) => n.primary && n.port === to.port && (n.host === to.host || (to.host === 'localhost' && n.host === '127.0.0.1')));
    if (!target) throw new ConfigError(`moveSwarmSlot: ${to.host}:${to.port} is not a primary of this cluster (its primaries: ${nodes.filter((n) => n.primary).map((n) => `${n.host}:${n.port}`).join(', ')})`);
    const at = (n: ClusterNode) => `${n.host}:${n.port}`;
    if (target.id === source.id) return { slot, from: at(source), to: at(target), keys: 0 };
    const src = node(source.host, source.port);
    const dst = node(target.host, target.port);
    opened.push(src, dst);
    await Promise.all([src.connect(), dst.connect()]);
    await dst.cluster('SETSLOT', slot, 'IMPORTING', source.id);
    const moved = Number(await src.eval(SCRIPT, 1, key, slot, target.host, target.port, target.id, o.timeoutMs ?? 60_000, c.username ?? '', c.password ?? ''));
    await dst.cluster('SETSLOT', slot, 'NODE', target.id);
    // the others learn it by gossip too; told, they redirect at once
    for (const n of nodes.filter((x) => x.primary && x.id !== source.id && x.id !== target.id)) {
      const r = node(n.host, n.port);
      opened.push(r);
      await r
        .connect()
        .then(() => r.cluster('SETSLOT', slot, 'NODE', target.id))
        .catch(() => {});
    }
    return { slot, from: at(source), to: at(target), keys: moved };
  } finally {
    for (const r of opened) r.disconnect();
  }
}
