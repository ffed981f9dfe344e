/** Worker registry effects: `workers` membership (register.lua), what a worker serves and takes, and the peer list. */
import type { Connection } from '../redis.js';
import { parseAddress } from '../address.js';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';

const registryKeys = (keys: Keys) => [keys.workerSet, keys.workerSeen, keys.epoch, keys.workerFunctions, keys.workerStates, keys.outage, keys.workerOwners, keys.workerMaxPayload];

/** What a worker says of itself in Redis as it registers, and again after a monitor pruned it. */
export interface Announced {
  /** the functions it serves (`workers:functions`, read by stats and status) */
  functions: string[];
  /** its maxPayloadBytes (`workers:max-payload`, read by a Client given no limit of its own) */
  maxPayloadBytes: number;
}

/**
 * List `worker` as the address of process `owner` (register.lua). Returns the epoch of Redis's
 * data, and the monitors' taskTimeout as Redis holds it (none before a monitor has swept).
 */
export async function registerWorker(
  redis: Connection,
  keys: Keys,
  worker: string,
  heartbeatInterval: number,
  announced: Announced,
  owner = '',
): Promise<{ epoch: string; taskTimeout?: number }> {
  const args = [worker, 'add', owner, heartbeatInterval, JSON.stringify(announced.functions), announced.maxPayloadBytes];
  const [, epoch, timeout] = (await runScript(redis, 'register', registryKeys(keys), args)) as [
    number,
    string,
    number | null | undefined,
  ];
  return { epoch, taskTimeout: typeof timeout === 'number' && timeout > 0 ? timeout : undefined };
}

/**
 * Take `worker` out, unless another process still heartbeats under its address
 * (lib/address-owners.lua); `gone`: processes listed there whose entries this one saw stand still.
 */
export async function deregisterWorker(redis: Connection, keys: Keys, worker: string, owner = '', gone: string[] = []): Promise<void> {
  await runScript(redis, 'register', registryKeys(keys), [worker, 'remove', owner, ...gone]);
}

/**
 * Say again what `worker` serves and takes (a function added, or the worker listed again). Its
 * limit only where none is written (a monitor's prune dropped it): one written is its own, or the
 * larger of a twin's under its address (register.lua), which this must not lower.
 */
export async function announce(redis: Connection, keys: Keys, worker: string, announced: Announced): Promise<void> {
  // (the limit's write failing, a key of another type there: left alone, as register.lua does;
  // a Client then refuses nothing on the workers' account. A lost connection fails the first.)
  const limit = redis.hsetnx(keys.workerMaxPayload, worker, announced.maxPayloadBytes).catch(() => {});
  await Promise.all([redis.hset(keys.workerFunctions, worker, JSON.stringify(announced.functions)), limit]);
}

/** distinct invalid members remembered per reader; past this, new ones are skipped unlogged */
const MAX_REMEMBERED = 1000;
/** how much of an invalid member a log line shows */
const SHOWN = 80;

/**
 * Invalid members already reported, per connection: each Worker and Monitor reads through its
 * own, and the list is re-read every fetchWorkerInterval, so a bad member is logged once per
 * reader, not once per refresh.
 */
const reported = new WeakMap<Connection, Set<string>>();

function show(member: string): string {
  return member.length > SHOWN ? `${JSON.stringify(member.slice(0, SHOWN))}... (${member.length} characters)` : JSON.stringify(member);
}

/**
 * The valid `host:port` members of `workers`, sorted. Anything can write to that set, and one
 * unusable member must not cost a node its peer list (or its process): invalid members are left
 * out, and each distinct one is passed to `warn` once, with what is wrong with it.
 */
export async function listWorkers(redis: Connection, keys: Keys, warn: (message: string) => void = () => {}): Promise<string[]> {
  const valid: string[] = [];
  let seen = reported.get(redis);
  for (const member of await redis.smembers(keys.workerSet)) {
    const p = parseAddress(member);
    if (p.ok) {
      valid.push(member);
      continue;
    }
    if (!seen) reported.set(redis, (seen = new Set()));
    if (seen.has(member) || seen.size > MAX_REMEMBERED) continue;
    seen.add(member);
    const more = seen.size > MAX_REMEMBERED ? `; over ${MAX_REMEMBERED} distinct invalid members, the next are skipped without a log line` : '';
    try {
      warn(`ignoring a member of ${keys.workerSet} that is not a peer address "host:port": ${show(member)}: ${p.reason}${more}`);
    } catch {
      // the list is what the caller needs; a failing log line must not cost it
    }
  }
  return valid.sort();
}
