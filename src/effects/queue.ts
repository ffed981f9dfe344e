/**
 * Queue effects: claim (claim.lua), with the ENDs that free its slots (finish-claim.lua), block until an entry arrives (BLMOVE rotation), recover the
 * claims whose replies were lost (claim-recover.lua), park a claimed task the worker cannot
 * take (park-claimed.lua) and submit (submit.lua). Named for the machine effects that call them.
 */
import { randomBytes } from 'node:crypto';
import type { Connection } from '../redis.js';
import { learntMove, MOVED_RETRIES } from '../cluster-redirect.js';
import type { Keys } from '../keys.js';
import type { Submission } from '../submission.js';
import { execPipeline, pipeScript, runScript, scriptPipeline } from '../scripts.js';
import type { DeadLetterReason } from '../errors.js';
import { parseFinish, pushEndings, type EndAnswer, type Ending } from './end-batch.js';

export interface Claimed {
  id: string;
  raw: string;
  attempt: number;
  lease: string;
}

/** what a claim returns: the tasks claimed, the entries it parked instead, and when (Redis ms) */
export interface ClaimResult {
  claimed: Claimed[];
  parked: Parked[];
  /** Redis time of the claim: the claimed tasks' `start` */
  now: number;
}

export interface Parked {
  /** why the entry was parked; `refused`: no entry, a function Redis refused to claim from (claim.lua, step 2) */
  reason: DeadLetterReason | 'refused';
  message: string;
}

export interface ClaimRequest {
  worker: string;
  /** at most this many tasks in all */
  max: number;
  maxPayloadBytes: number;
  /** the functions the worker runs, each with how many more of it it may take now */
  functions: { name: string; room: number }[];
  /** where in `functions` to start (rotated by the worker, so none starves another) */
  rotation: number;
  /** names this claim, so that a lost reply can be recovered (claim.lua ARGV[6]); '' = none */
  token: string;
  /** tokens of earlier claims whose replies arrived: their receipts are dropped */
  acks: string[];
  /** set the receipts' expiry again (claim.lua ARGV[8]) */
  refreshReceipts?: boolean;
  /** the reply counts the swarm's workers (`workers`): the worker's lanes depend on it */
  countWorkers?: boolean;
  /** the worker's database number (0 when not given): claims keep what they know per database */
  db?: number;
}

/**
 * a claim's reply as the script gives it: `wakeAt`, the Redis time something held back by a
 * rate limit may be claimable (-1: nothing), `receipt` (one was kept under the token), and
 * `workers`, the members of the swarm's worker set when the request asked (countWorkers), else -1
 */
export type ClaimReply = ClaimResult & { wakeAt: number; receipt: boolean; workers: number };

export const NO_CLAIM = (): ClaimReply => ({ claimed: [], parked: [], now: 0, wakeAt: -1, receipt: false, workers: -1 });

export async function claim(redis: Connection, keys: Keys, c: ClaimRequest): Promise<ClaimReply> {
  if (c.max <= 0 || c.functions.length === 0) return NO_CLAIM();
  return parseClaim(await runScript(redis, 'claim', claimKeys(keys, c), claimArgs(keys, c)));
}

/**
 * End `ends` (fenced, as finish.lua) and claim for the slots they free, in one script
 * (finish-claim.lua: finish.lua then claim.lua): the worker's end-and-claim-next, one command
 * and one reply per batch where the two would be two. `written` is finish.lua's answer per end.
 */
export async function finishAndClaim(redis: Connection, keys: Keys, ends: Ending[], c: ClaimRequest): Promise<ClaimReply & { written: EndAnswer[] }> {
  // (finish.lua's keys and task key prefix are claim.lua's too: finish-claim.lua passes them on)
  const args: (string | number)[] = [4 * ends.length];
  pushEndings(args, ends);
  const reply = (await runScript(redis, 'finish-claim', claimKeys(keys, c), claimArgs(keys, c, args))) as (string | number)[];
  // (claim.lua's reply, then finish.lua's answer for each END)
  return { written: parseFinish(reply.slice(reply.length - ends.length)), ...parseClaim(reply) };
}

export function claimKeys(keys: Keys, c: Pick<ClaimRequest, 'worker' | 'countWorkers'>): string[] {
  const k = [keys.newQueue, keys.taskSet, keys.leases, keys.queued, ...keys.deadStore, keys.claimReceipts(c.worker), keys.ended];
  if (c.countWorkers) k.push(keys.workerSet);
  return k;
}
/** claim.lua's ARGV, after `args` (finish-claim.lua's ENDs) */
export function claimArgs(keys: Keys, c: ClaimRequest, args: (string | number)[] = []): (string | number)[] {
  args.push(keys.taskKeyPrefix, c.worker, c.max, c.maxPayloadBytes, c.rotation, c.token, c.db ?? 0, c.refreshReceipts === false ? 0 : 1, c.acks.length);
  for (const a of c.acks) args.push(a);
  for (const f of c.functions) args.push(f.name, f.room);
  return args;
}

/**
 * An idle worker's pickup in one round trip: block until the queue holds an entry (see
 * waitForEntry: a new task, or a wake marker; ready.lua pushes one first when work of the
 * worker's functions already waits in their queues), and claim, pipelined behind the block on the
 * same connection. Redis runs a blocked client's next command as soon as the block returns, so the
 * claim happens the moment an entry arrives (or, after `timeoutMs` without one, claims whatever
 * is there: the poll). A worker that stops waiting (STOP, Redis lost) lets the wait end on its
 * own rather than dropping the connection: a claim Redis has already run must reach the worker,
 * which hands its tasks back (see Worker `waitForTask`). Rejects only when the pipelined claim's
 * outcome is unknown. `onBlocking` (optional) receives the blocking connection's client id as
 * the block begins, so that the worker can end its own wait (CLIENT UNBLOCK). `refused`: the
 * last claim said Redis refused a function; ready.lua is asked of none.
 */
export async function waitAndClaim(blocking: Connection, keys: Keys, timeoutMs: number, request: ClaimRequest, onBlocking?: (clientId: number) => void, refused = false): Promise<ClaimReply> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    const pipe = scriptPipeline(blocking);
    // `onBlocking` gets the connection's id (for CLIENT UNBLOCK) once Redis has run this pipeline
    // up to the block: its reply leaves with the block's, as the commands arrive in one write.
    if (onBlocking) pipe.client('ID', (err, id) => !err && id !== undefined && onBlocking(id));
    // Work of this worker's functions may wait in their queues with nothing on `new-task` to wake
    // it (another worker's claim routed the entry since our last claim): ready.lua then pushes a
    // wake marker, so the block returns at once. In the same write, Redis runs it right before
    // the block: nothing slips in between.
    // (none asked after a claim Redis refused a function: ready.lua would read it ready, and the
    // block return at once, again and again; Worker `WorkerPartition.refused`)
    pipeScript(pipe, 'ready', [keys.newQueue], refused ? [] : request.functions.filter((f) => f.room > 0).map((f) => f.name));
    pipe.blmove(keys.newQueue, keys.newQueue, 'RIGHT', 'RIGHT', blockFor(timeoutMs, started));
    pipeScript(pipe, 'claim', claimKeys(keys, request), claimArgs(keys, request));
    const replies = await execPipeline(pipe);
    const [err, reply] = replies[onBlocking ? 3 : 2] ?? [new Error('the pipelined claim got no reply')];
    // a Cluster whose slot went to another node (src/cluster-redirect.ts): the claim did not
    // run, so it is sent again where the slot is now (CLIENT ID made this pipeline one that
    // ioredis neither sends again nor learns from)
    if (err && attempt <= MOVED_RETRIES && (await learntMove(blocking, keys.newQueue, err))) continue;
    if (err) throw err;
    return parseClaim(reply);
  }
}

/**
 * `waitAndClaim` without the claim, for a worker of a partitioned swarm: it waits on every
 * partition at once (a connection each: one blocking command cannot span slots), and claims
 * across them once any wakes. Resolves true when an entry arrived, false at the timeout.
 */
export async function waitForWork(blocking: Connection, keys: Keys, timeoutMs: number, functions: string[], onBlocking: (clientId: number) => void): Promise<boolean> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    const pipe = scriptPipeline(blocking);
    pipe.client('ID', (err, id) => !err && id !== undefined && onBlocking(id));
    pipeScript(pipe, 'ready', [keys.newQueue], functions);
    pipe.blmove(keys.newQueue, keys.newQueue, 'RIGHT', 'RIGHT', blockFor(timeoutMs, started));
    const replies = await execPipeline(pipe);
    const [err, reply] = replies[2] ?? [new Error('the wait got no reply')];
    // The partition's slot went to another node (moveSwarmSlot, a failover): learnt, and the
    // wait sent again there (src/cluster-redirect.ts); else every later wait would fail alike,
    // at once, and end the worker's wait on every partition with it (a hot loop)
    if (err && attempt <= MOVED_RETRIES && (await learntMove(blocking, keys.newQueue, err))) continue;
    if (err) throw err;
    return reply !== null;
  }
}

/**
 * seconds a block may take of a wait of `timeoutMs` begun at `started`: what is left of it (a
 * wait sent again after a Cluster's MOVED blocks for the rest, not a whole wait more, so that it
 * ends within the deadline the worker gives it: src/worker.ts `answeredWithin`)
 */
function blockFor(timeoutMs: number, started: number): number {
  return Math.max(0.01, (timeoutMs - (performance.now() - started)) / 1000);
}

/** claim.lua's reply opens with six numbers: wakeAt, now, receipt, workers, and how many claimed and parked follow */
const CLAIM_HEADER = 6;

export function parseClaim(reply: unknown): ClaimReply {
  const flat = reply as (string | number)[];
  // (read by index: a destructuring walks the array's iterator, on every claim)
  const wakeAt = flat[0] as number;
  const now = flat[1] as number;
  const receipt = flat[2] as number;
  const workers = flat[3] as number;
  const nClaimed = flat[4] as number;
  const nParked = flat[5] as number;
  const claimed: Claimed[] = [];
  const claimedEnd = CLAIM_HEADER + 4 * nClaimed;
  for (let i = CLAIM_HEADER; i < claimedEnd; i += 4) {
    claimed.push({ id: flat[i] as string, raw: flat[i + 1] as string, attempt: Number(flat[i + 2]), lease: flat[i + 3] as string });
  }
  const parked: Parked[] = [];
  for (let i = claimedEnd; i < claimedEnd + 2 * nParked; i += 2) {
    parked.push({ reason: flat[i] as Parked['reason'], message: flat[i + 1] as string });
  }
  return { claimed, parked, now: Number(now), wakeAt: Number(wakeAt), receipt: receipt === 1, workers: Number(workers) };
}

/**
 * Block until the queue holds an entry, without taking it: BLMOVE from the queue's right end to
 * its right end is a no-op rotation that returns as soon as something is pushed. Nothing leaves
 * the queue here, so a worker dying while blocked loses nothing; claim.lua then takes it.
 */
export async function waitForEntry(blocking: Connection, keys: Keys, timeoutMs: number): Promise<boolean> {
  const r = await blocking.blmove(keys.newQueue, keys.newQueue, 'RIGHT', 'RIGHT', Math.max(0.01, timeoutMs / 1000));
  return r !== null;
}

/**
 * Give up on claims whose replies never came (claim-recover.lua): what they took is handed back
 * to the queue in the script itself; a claim that has not run never will. Returns the ids
 * handed back.
 */
export async function recoverClaims(redis: Connection, keys: Keys, worker: string, tokens: string[]): Promise<string[]> {
  if (tokens.length === 0) return [];
  return (await runScript(redis, 'claim-recover', [keys.claimReceipts(worker), keys.leases, keys.taskSet, keys.newQueue], [keys.taskKeyPrefix, ...tokens])) as string[];
}

export interface Unrunnable {
  id: string;
  lease: string;
  reason: DeadLetterReason;
  message: string;
}

/** Park claimed tasks this worker cannot start, each alone (park-claimed.lua); returns the ids parked. */
export async function parkClaimed(redis: Connection, keys: Keys, worker: string, tasks: Unrunnable[]): Promise<string[]> {
  if (tasks.length === 0) return [];
  const args: string[] = [keys.taskKeyPrefix, worker];
  for (const t of tasks) args.push(t.id, t.lease, t.reason, t.message);
  return (await runScript(redis, 'park-claimed', [keys.taskSet, keys.leases, keys.queued, ...keys.deadStore, keys.newQueue], args)) as string[];
}

/**
 * Queue one entry (submit.lua); false when its id is taken. With `place` (a task with a group or a
 * priority) it is placed in its function's queue at once.
 */
export async function submit(
  redis: Connection,
  keys: Keys,
  id: string,
  raw: string,
  place?: { fn: string; group: string; priority: number; manualEnd: boolean },
): Promise<boolean> {
  const t = { id, raw, fn: place?.fn ?? '', group: place?.group ?? '', priority: place?.priority ?? 0, manualEnd: place?.manualEnd ?? false, place: place !== undefined };
  const [r] = await submitTasks(redis, keys, [t]);
  return r!.queued;
}

/** What submit.lua did with one task of a batch. */
export type SubmitReply =
  | { queued: true }
  /** its id is taken (`all`: nothing of the batch was written) */
  | { queued: false; taken: true }
  /** free, but not written: another id of the batch is taken */
  | { queued: false; taken: false }
  /** its dedupe key is held by this task, queued, delayed or running: nothing written */
  | { queued: false; taken: false; heldBy: string }
  /** (`each`) its writes raised: this error */
  | { queued: false; taken: false; error: Error }
  /** its entry is over `checkOver` and over every live worker's maxPayloadBytes, the largest of which is this: nothing written */
  | { queued: false; taken: false; tooLarge: number };

/**
 * Queue a batch of tasks, all or nothing (submit.lua), or in `each` mode a batch of unrelated
 * submits, a taken id refusing only its own: one round trip whatever the batch's size.
 * A task of the seed's kind goes on `new-task`; one with a group, a priority, a due time or a
 * dedupe key is written whole and placed at once (in its function's queue, or delayed).
 * A new entry over `checkOver` bytes is refused when it is over every listed worker's
 * maxPayloadBytes, each having declared one (src/payload-limit.ts).
 */
/** submit.lua's arguments before its tasks' (eight each): the call's own, as the script reads them */
export function submitCallArgs(keys: Keys, mode: 'all' | 'each', checkOver?: number): (string | number)[] {
  return [keys.taskKeyPrefix, mode, checkOver ?? '', keys.workerMaxPayload, keys.workerSet];
}

export async function submitTasks(
  redis: Connection,
  keys: Keys,
  tasks: readonly (Submission & { place?: boolean })[],
  mode: 'all' | 'each' = 'all',
  checkOver?: number,
): Promise<SubmitReply[]> {
  const args = submitCallArgs(keys, mode, checkOver);
  for (const t of tasks) {
    const due = !t.due ? '' : 'at' in t.due ? `at:${t.due.at}` : `in:${t.due.delay}`;
    const placed = t.place === true || t.group !== '' || t.priority !== 0 || t.due !== undefined || t.key !== undefined;
    args.push(t.id, t.raw, placed ? t.fn : '', t.group, t.priority, t.manualEnd ? '1' : '', due, t.key ?? '');
  }
  // (unbatched: the client batches its submits itself, a tick's or a submitMany's in one call)
  const reply = (await runScript(redis, 'submit', [keys.queued, keys.newQueue], args, true)) as (number | [string] | [string, number] | Error)[];
  return reply.map((r) =>
    r instanceof Error
      ? { queued: false, taken: false, error: r }
      : Array.isArray(r)
        ? r.length === 2
          ? { queued: false, taken: false, tooLarge: Number(r[1]) }
          : { queued: false, taken: false, heldBy: String(r[0]) }
        : r === 1
          ? { queued: true }
          : r === 0
            ? { queued: false, taken: true }
            : { queued: false, taken: false },
  );
}

/**
 * cancel.lua: what it found ('running': the caller stops it; 'unknown': no such task). Each call
 * carries a token of its own, so a resend of it (after a connection reset) knows its own cancel.
 */
export async function cancelTask(redis: Connection, keys: Keys, id: string): Promise<'cancelled' | 'running' | 'ended' | 'unknown'> {
  return (await cancelScript(redis, keys, id, '')) as 'cancelled' | 'running' | 'ended' | 'unknown';
}

/** what a control `stop` did (cancel.lua's stop): running (marked, its stop published), cancelled (between two attempts), waiting (no claim has taken it yet: nothing done), ended, or no such task */
export type StopReply = 'running' | 'cancelled' | 'waiting' | 'ended' | 'unknown';

/** a control `stop` for task `id` (cancel.lua, its stop): a running task marked `cancelling` and its stop published, one between two attempts cancelled, in one step; any other left alone */
export async function stopTask(redis: Connection, keys: Keys, id: string): Promise<StopReply> {
  return (await cancelScript(redis, keys, id, 'stop')) as StopReply;
}

function cancelScript(redis: Connection, keys: Keys, id: string, mode: '' | 'stop'): Promise<unknown> {
  const call = randomBytes(8).toString('hex');
  return runScript(redis, 'cancel', [keys.task(id), keys.newQueue, keys.queued, keys.ended], [id, keys.events(id), call, keys.control(id), mode]);
}
