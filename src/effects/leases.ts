/**
 * Lease effects of a worker: the batched heartbeat (renew.lua), the fenced events (emit.lua), the hand-back on stop (hand-back.lua), the re-assertion of
 * tasks whose hash Redis lost (reassert.lua), and the mark of a stop it heard (told-stop.lua).
 */
import { ReplyError } from 'ioredis';
import type { Connection } from '../redis.js';
import type { Keys } from '../keys.js';
import { runScript } from '../scripts.js';
import { within } from '../within.js';
import type { OwnerEntry } from '../address-owners.js';
import type { LoggerLike } from '../logger.js';
import { quote } from '../quote.js';

export interface HeldLease {
  id: string;
  lease: string;
}

export async function renewLeases(
  redis: Connection,
  keys: Keys,
  worker: string,
  held: HeldLease[],
  heartbeatInterval = 1000,
  owner = '',
): Promise<RenewReply> {
  const args: (string | number)[] = [keys.taskKeyPrefix, worker, heartbeatInterval, owner];
  for (const h of held) args.push(h.id, h.lease);
  const [lost, missing, now, epoch, cancelled, timeout, othersFlat, workers] = (await runScript(
    redis,
    'renew',
    [keys.leases, keys.workerSeen, keys.workerSet, keys.grace, keys.outage, keys.epoch, keys.workerOwners],
    args,
  )) as [string[], string[], number, string, string[], number | null | undefined, string[] | undefined, number | undefined];
  const others = new Map<string, OwnerEntry>();
  for (let i = 0; i + 2 < (othersFlat?.length ?? 0); i += 3) others.set(othersFlat![i]!, { overdue: Number(othersFlat![i + 1]), every: Number(othersFlat![i + 2]) });
  // (false, a nil reply: no monitor has swept yet)
  return { lost, missing, now, epoch, cancelled, taskTimeout: typeof timeout === 'number' && timeout > 0 ? timeout : undefined, others, workers: typeof workers === 'number' ? workers : -1 };
}

export interface RenewReply {
  lost: string[];
  missing: string[];
  now: number;
  epoch: string;
  cancelled: string[];
  /** the monitors' taskTimeout as Redis holds it (written by their sweeps); none before a monitor has swept */
  taskTimeout?: number;
  /** the other processes listed under this worker's address, not overdue (renew.lua) */
  others: Map<string, OwnerEntry>;
  /** members of the worker set, this worker among them (-1: not told) */
  workers: number;
}

/** `reason` is what the `requeued` event says (a worker stopping, a claim abandoned). */
export async function handBack(redis: Connection, keys: Keys, held: HeldLease[], reason = 'worker stopping'): Promise<string[]> {
  if (held.length === 0) return [];
  const args: string[] = [keys.taskKeyPrefix, reason];
  for (const h of held) args.push(h.id, h.lease);
  return (await runScript(redis, 'hand-back', [keys.leases, keys.taskSet, keys.newQueue], args)) as string[];
}

export interface ReassertTask extends HeldLease {
  raw: string;
  attempt: number;
  /** Redis time (ms) of the claim, from the claim's reply */
  start: number;
}

/** `epochSeen`: the epoch of the renew before the one that found the hash missing ('' = unknown). */
export async function reassert(redis: Connection, keys: Keys, worker: string, t: ReassertTask, epochSeen = ''): Promise<boolean> {
  const r = await runScript(
    redis,
    'reassert',
    [keys.task(t.id), keys.taskSet, keys.leases, keys.epoch, keys.queued, keys.newQueue],
    [t.id, t.raw, t.attempt, t.lease, worker, t.start, epochSeen],
  );
  return r === 1;
}

/** A task this worker no longer runs and still holds the lease of, as a stop's hand-back left it. */
export interface RememberedTask extends ReassertTask {
  /** its `epoch` when this worker last found its hash (src/task.ts LocalTask) */
  epoch: string;
}

/**
 * Hand back tasks remembered from a hand-back Redis did not answer (src/worker.ts, a stop): the
 * renew tells which of their hashes Redis lost since (restarted empty), those are re-asserted
 * from memory first, and every one whose lease the renew did not find lost goes back to the
 * queue (hand-back.lua checks each lease again: a task not ours is left alone). A re-assert that
 * writes nothing is not taken for a task lost: the worker's own renew may have re-asserted it
 * just before. `renewFor`: ms to wait for the renew's answer; no answer by then, undefined, and
 * nothing was re-asserted nor handed back; refused (an error reply), that error. Returns the ids
 * handed back.
 */
export async function handBackRemembered(
  redis: Connection,
  keys: Keys,
  worker: string,
  tasks: RememberedTask[],
  heartbeatInterval: number,
  owner: string,
  renewFor: number,
): Promise<string[] | undefined> {
  const held = tasks.map(({ id, lease }) => ({ id, lease }));
  const renewing = renewLeases(redis, keys, worker, held, heartbeatInterval, owner);
  const answer = await within(renewFor, renewing.then((v) => ({ v }), (e: unknown) => ({ e })));
  if (!answer) return undefined;
  // (refused: Redis answered, at its maxmemory say, and the caller says so; else no answer)
  if ('e' in answer) {
    if (answer.e instanceof ReplyError) throw answer.e;
    return undefined;
  }
  const r = answer.v;
  const lost = new Set(r.lost);
  for (const id of r.missing) {
    const t = tasks.find((x) => x.id === id)!;
    await reassert(redis, keys, worker, t, t.epoch);
  }
  return handBack(redis, keys, held.filter((h) => !lost.has(h.id)));
}

/** mark the task `cancelling` under this claim: a stop heard on its control channel holds if the worker is cut off before its END (told-stop.lua); false when the claim no longer runs it */
export async function markToldStop(redis: Connection, keys: Keys, held: HeldLease): Promise<boolean> {
  return (await runScript(redis, 'told-stop', [keys.task(held.id)], [held.lease])) === 1;
}

/** markToldStop, not awaited: a failure is logged, and the worker's next heartbeat marks again what Redis does not have */
export function keepToldStop(redis: Connection, keys: Keys, held: HeldLease, log: LoggerLike): void {
  markToldStop(redis, keys, held).catch((e: Error) => log.debug(`task ${quote(held.id)}: its stop could not be kept in Redis yet (marked again at a heartbeat): ${e.message}`));
}

export interface OutgoingEvent {
  id: string;
  lease: string;
  channel: string;
  /** the event's JSON */
  message: string;
  /** what the task's hash keeps of it as its last event (emit.lua; src/wire.ts lastEventArg) */
  last: string;
  /**
   * its number among the events of its claim (1, 2, ...): a batch sent again (its answer lost
   * with the connection, or past the command's timeout while Redis was frozen, and run by Redis
   * all the same) publishes only the events not published yet (emit.lua)
   */
  seq: number;
}

/** What became of a fenced event: published, fenced (not our task any more), or its hash missing. */
export type EmitStatus = 'published' | 'fenced' | 'missing';

/**
 * Publish events, each only while its task is RUNNING under its lease (emit.lua), which keeps
 * the last of each task in its hash in the same call.
 */
export async function emitEvents(redis: Connection, keys: Keys, events: OutgoingEvent[]): Promise<EmitStatus[]> {
  if (events.length === 0) return [];
  const args: string[] = [];
  for (const e of events) args.push(keys.task(e.id), e.lease, e.channel, e.message, e.last, String(e.seq));
  const r = (await runScript(redis, 'emit', [keys.taskSet], args)) as number[];
  return r.map((x) => (x === 1 ? 'published' : x === 0 ? 'fenced' : 'missing'));
}
