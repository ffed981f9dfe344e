/** Redis Cluster operations: `move-slot`, which moves the swarm (or one partition of it) to another primary. */
import type { CommandSpec, Invocation } from '../command-spec.js';
import { UsageError } from '../errors.js';
import { integerOption, jsonOption, parsedOption } from '../options.js';
import { reportResult } from '../result.js';
import { parseAddress } from '../../address.js';
import { moveSwarmSlot } from '../../slot-move.js';

function parseTarget(text: string): { host: string; port: number } {
  const a = parseAddress(text, { strict: true });
  if (!a.ok) throw new UsageError(`--to must be host:port of a primary of the cluster, got ${JSON.stringify(text)}: ${a.reason}`);
  return { host: a.host.replace(/^\[|\]$/g, ''), port: a.port };
}

async function runMoveSlot(inv: Invocation): Promise<number> {
  const to = inv.opts.to as { host: string; port: number } | undefined;
  if (to === undefined) throw new UsageError(`move-slot: --to host:port names the primary to move to (usage: ${inv.usage})`);
  if (!inv.redis.cluster && !/^redis\+cluster:/i.test(inv.redis.url ?? '')) throw new UsageError('move-slot: name the cluster with --redis-cluster h:p,h:p or REDIS_URL=redis+cluster://h:p');
  const partition = inv.opts.partition as number | undefined;
  inv.io.stderr.write(`moving ${partition === undefined ? 'the swarm' : `partition ${partition}`} to ${to.host}:${to.port} (its slot's keys in one step)...\n`);
  const r = await moveSwarmSlot(inv.redis, to, partition === undefined ? {} : { partition });
  return reportResult(inv, r, (r) => [r.from === r.to ? `slot ${r.slot} is on ${r.to} already: nothing moved` : `slot ${r.slot}: ${r.keys} key(s) moved from ${r.from} to ${r.to}`]);
}

export const CLUSTER_COMMANDS: CommandSpec[] = [
  {
    name: 'move-slot',
    summary: "move the swarm's slot (or one partition's) to another primary of its Redis Cluster, all its keys at once",
    details:
      "Safe while the swarm runs, unlike a key-by-key reshard (docs/deployments.md, Redis Cluster): one\n" +
      "script on the source moves every key of the slot and gives the slot away. Needs a user allowed\n" +
      'MIGRATE and CLUSTER SETSLOT (a cluster administrator, not a swarm role).',
    usage: '--to host:port [--partition n]',
    options: [parsedOption('--to <host:port>', 'the primary to move to', parseTarget), integerOption('--partition <n>', 'with --partitions: which partition (default 0)', 0), jsonOption()],
    run: runMoveSlot,
  },
];
