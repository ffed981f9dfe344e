/**
 * A model-based harness for the Lua scripts: simulated workers and a monitor drive the real
 * scripts (through the typed wrappers in src/effects) on a real redis-server, one operation at a
 * time. Every script is atomic, so a sequence of whole script calls covers every interleaving
 * that concurrent workers and monitors can produce.
 *
 * Each simulated worker keeps its own belief of which (id, lease) it holds, updated only from
 * script return values, as src/worker.ts does (a renew that says "lost" or a refused END drops
 * the belief; a renew that says "missing" re-asserts from the belief). A stale belief is kept
 * until the worker learns otherwise, so renew/finish/handBack are also tried with old leases.
 *
 * After each operation the whole Redis state of the run's key prefix is read in one MULTI and
 * compared with (a) a reference prediction of what the script must have done, computed from the
 * state before it (everything the script must not touch must be unchanged), and (b) the global
 * invariants of docs/semantics.md (see checkInvariants).
 *
 * Time: Redis TIME cannot be mocked. A task goes stale because the test rewinds its `update`
 * field and its score in the lease index by 2 x taskTimeout ("age", "stall"); the swarm goes
 * silent because the test rewinds every worker's overdue time by one or three taskTimeouts
 * ("silence"); a grace period ends because the test deletes the grace key ("graceEnds").
 * Everything else is fresh (seconds old at most), so which task is stale is never a matter of
 * timing; the outage check is predicted from the very times the scripts return and store.
 */
import { parseLastEvent } from '../../src/wire.js';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';
import { buildKeys, type Keys } from '../../src/keys.js';
import { claim, submit, type ClaimReply, type ClaimRequest } from '../../src/effects/queue.js';
import { retryDead } from '../../src/effects/dead-letters.js';
import { DEAD_LETTER_REASONS, type DeadLetterReason } from '../../src/errors.js';
import { handBack, reassert, renewLeases } from '../../src/effects/leases.js';
import { finishTasks, type EndAnswer, type Ending } from '../../src/effects/end-batch.js';
import type { TaskOutcome } from '../../machines/task.js';
import { reapEnded, requeueStale } from '../../src/effects/sweep.js';

// ---------------------------------------------------------------------------------------------
// The world: three workers (w3 lacks function g), six task ids (t3 is manual_end, t4 and t6 run g).

export interface TaskDef {
  id: string;
  fn: string;
  manualEnd: boolean;
  raw: string;
}
export const TASKS: TaskDef[] = [
  { id: 't1', fn: 'f', manualEnd: false },
  { id: 't2', fn: 'f', manualEnd: false },
  { id: 't3', fn: 'f', manualEnd: true },
  { id: 't4', fn: 'g', manualEnd: false },
  { id: 't5', fn: 'f', manualEnd: false },
  { id: 't6', fn: 'g', manualEnd: false },
].map((t, i) => ({
  ...t,
  raw: JSON.stringify({ id: t.id, function: t.fn, data: { n: i }, ...(t.manualEnd ? { manual_end: true } : {}) }),
}));
export const IDS = TASKS.map((t) => t.id);

export const FUNCTIONS = ['f', 'g'];

/** the keys of function fn's structure, as src/lua/lib/names.lua names them (group '' only) */
const part = (name: string) => `${Buffer.byteLength(name)}:${name}`;
export const fnGroupsKey = (keys: Keys, fn: string) => `${keys.newQueue}:f:${part(fn)}:groups`;
export const fnGroupKey = (keys: Keys, fn: string, g = '') => `${keys.newQueue}:f:${part(fn)}:g:${part(g)}`;

export const WORKERS = [
  { name: 'w1:1', functions: ['f', 'g'] },
  { name: 'w2:1', functions: ['f', 'g'] },
  { name: 'w3:1', functions: ['f'] },
];
export const MONITOR = 'm1';
const MAX_BYTES = 1 << 20;
/** renewLeases' default heartbeatInterval, which the simulated workers use */
const HEARTBEAT_INTERVAL = 1000;

export interface SimConfig {
  taskTimeout: number;
  maxAttempts: number;
  /** endRetention passed to reap.lua (0 deletes ended hashes at once) */
  retention: number;
}

/** the default key names (the seed's) under a prefix */
export function keysFor(keyPrefix: string): Keys {
  return buildKeys({ keyPrefix, newQueue: 'new-task', taskSet: 'tasks', taskPrefix: 'task-', endQueue: 'end-task', workerSet: 'workers' });
}

/** A claim request as a simple worker makes it: room for `max` of each function, no rotation. */
export function requestFor(worker: string, max: number, maxPayloadBytes: number, functions: string[], token = ''): ClaimRequest {
  return { worker, max, maxPayloadBytes, functions: functions.map((name) => ({ name, room: max })), rotation: 0, token, acks: [] };
}

/** A claim as a simple worker makes it: no token (no receipt kept), no acknowledgements. */
export function claimAs(redis: Redis, keys: Keys, worker: string, max: number, maxPayloadBytes: number, functions: string[], token = ''): Promise<ClaimReply> {
  return claim(redis, keys, requestFor(worker, max, maxPayloadBytes, functions, token));
}

/** Make a RUNNING task look `ms` older: its `update` and its lease-index score. */
export async function ageTask(redis: Redis, keys: Keys, id: string, ms: number): Promise<void> {
  const update = Number(await redis.hget(keys.task(id), 'update'));
  const score = Number(await redis.zscore(keys.leases, id));
  await redis.hset(keys.task(id), 'update', String(update - ms));
  await redis.zadd(keys.leases, score - ms, id);
}

// ---------------------------------------------------------------------------------------------
// Operations

/** an end of the task (the machine's outcomes but a retry) */
type EndOutcome = Exclude<TaskOutcome, 'retry'>;

export type Op =
  | { k: 'submit'; t: number }
  /** Client.submit of a task with a group or priority: placed in its function's queue at once (here group '', priority 0) */
  | { k: 'place'; t: number }
  | { k: 'pushRaw'; t: number }
  | { k: 'claim'; w: number; n: number }
  /** mask 0 = every held lease (the batched heartbeat), else the subset of held leases by bit */
  | { k: 'renew'; w: number; mask: number }
  | { k: 'finish'; w: number; i: number; outcome: EndOutcome }
  /** several ends in one finish.lua call (tasks that settled in the same tick) */
  | { k: 'finishBatch'; w: number; mask: number; outcomes: EndOutcome[] }
  /** the same finish call again (a retry after a timeout whose first try reached Redis) */
  | { k: 'finishAgain'; w: number; i: number }
  | { k: 'handBack'; w: number; mask: number }
  /** make a RUNNING task stale: rewind `update` and its lease-index score (indexOnly: the score only) */
  | { k: 'age'; i: number; indexOnly: boolean }
  /** a worker stops heartbeating: every task it currently holds is aged as by `age` */
  | { k: 'stall'; w: number }
  | { k: 'requeue'; limit: number }
  | { k: 'reap'; limit: number }
  /** Redis loses a RUNNING task's hash; its current holder's next heartbeat re-asserts it */
  | { k: 'flush'; i: number }
  /**
   * Redis loses a RUNNING task's hash and every worker that held it died: nobody re-asserts it
   * (outside every guarantee: the task is gone); its index entry is as stale as its holders.
   */
  | { k: 'lose'; i: number }
  /** every worker's overdue time goes back by `by` taskTimeouts (1: an outage; 3: also prunable) */
  | { k: 'silence'; by: number }
  /** the grace (one taskTimeout) is over: the grace key is deleted */
  | { k: 'graceEnds' }
  | { k: 'retryDead'; i: number };

export function describeOp(op: Op): string {
  const { k, ...rest } = op as { k: string } & Record<string, unknown>;
  // claim and renew name their worker; the others take the w-th (mod) worker with something to do
  const named = k === 'claim' || k === 'renew';
  const parts = Object.entries(rest).map(([a, b]) => `${a}=${a === 'w' && named ? WORKERS[b as number]!.name : a === 't' ? TASKS[b as number]!.id : String(b)}`);
  return `${k}(${parts.join(' ')})`;
}

// ---------------------------------------------------------------------------------------------
// Snapshots

type Hash = Record<string, string>;
export interface State {
  queue: string[];
  queued: string[];
  tasks: string[];
  leases: Record<string, number>;
  ended: string[];
  /** the dead-letter store: entries by key, their index scores, the junk keys, the stats */
  dead: Hash;
  deadIndex: Record<string, number>;
  deadJunk: string[];
  deadStats: Hash;
  endSet: string[];
  hashes: Record<string, Hash>;
  /** ids whose hash has a TTL */
  expiring: string[];
  grace: boolean;
  outage: Hash;
  seen: Record<string, string>;
  workers: string[];
  /** per function, its routed tasks (the group '' zset: "<seq>:<id>" -> score) */
  fq: Record<string, Record<string, number>>;
  /** per function, the turn of its group '' in its groups zset (absent: no group queued) */
  turns: Record<string, number>;
  /** the routing counters (`seq`, `q:<fn>`) and the running counts (`f:<fn>`) */
  counts: Hash;
  running: Hash;
}
export interface Snap {
  /** Redis time (ms) when the snapshot was read */
  now: number;
  s: State;
}

function norm(s: State): State {
  const sorted = (a: string[]) => [...a].sort();
  return {
    ...s,
    queued: sorted(s.queued),
    tasks: sorted(s.tasks),
    endSet: sorted(s.endSet),
    expiring: sorted(s.expiring),
    workers: sorted(s.workers),
    deadJunk: sorted(s.deadJunk),
  };
}
function clone(s: State): State {
  return structuredClone(s);
}

export async function snapshot(redis: Redis, keys: Keys): Promise<Snap> {
  const m = redis
    .multi()
    .time()
    .lrange(keys.newQueue, 0, -1)
    .smembers(keys.queued)
    .smembers(keys.taskSet)
    .zrange(keys.leases, 0, -1, 'WITHSCORES')
    .lrange(keys.ended, 0, -1)
    .hgetall(keys.dead.entries)
    .zrange(keys.dead.index, 0, -1, 'WITHSCORES')
    .zrange(keys.dead.junk, 0, -1)
    .hgetall(keys.dead.stats)
    .smembers(keys.endQueue)
    .pttl(keys.grace)
    .hgetall(keys.outage)
    .zrange(keys.workerSeen, 0, -1, 'WITHSCORES')
    .smembers(keys.workerSet)
    .hgetall(keys.counts)
    .hgetall(keys.running);
  for (const fn of FUNCTIONS) m.zrange(fnGroupKey(keys, fn), 0, -1, 'WITHSCORES').zrange(fnGroupsKey(keys, fn), 0, -1, 'WITHSCORES');
  for (const id of IDS) m.hgetall(keys.task(id)).pttl(keys.task(id));
  const res = await m.exec();
  if (!res) throw new Error('MULTI aborted');
  const v = res.map(([err, val]) => {
    if (err) throw err;
    return val;
  });
  const [time, queue, queued, tasks, leasesFlat, ended, dead, deadIndexFlat, deadJunk, deadStats, endSet, gracePttl, outage, seenFlat, workers, counts, running] = v as [
    [string, string],
    string[],
    string[],
    string[],
    string[],
    string[],
    Hash,
    string[],
    string[],
    Hash,
    string[],
    number,
    Hash,
    string[],
    string[],
    Hash,
    Hash,
  ];
  const fq: Record<string, Record<string, number>> = {};
  const turns: Record<string, number> = {};
  FUNCTIONS.forEach((fn, i) => {
    const flat = v[17 + 2 * i] as string[];
    const groups = v[18 + 2 * i] as string[];
    if (flat.length) {
      fq[fn] = {};
      for (let j = 0; j < flat.length; j += 2) fq[fn][flat[j]!] = Number(flat[j + 1]);
    }
    expect(groups.length === 0 || (groups.length === 2 && groups[0] === ''), `${fn}: only the group '' has a turn`).toBe(true);
    if (groups.length) turns[fn] = Number(groups[1]);
  });
  const deadIndex: Record<string, number> = {};
  for (let i = 0; i < deadIndexFlat.length; i += 2) deadIndex[deadIndexFlat[i]!] = Number(deadIndexFlat[i + 1]);
  const leases: Record<string, number> = {};
  for (let i = 0; i < leasesFlat.length; i += 2) leases[leasesFlat[i]!] = Number(leasesFlat[i + 1]);
  const seen: Record<string, string> = {};
  for (let i = 0; i < seenFlat.length; i += 2) seen[seenFlat[i]!] = seenFlat[i + 1]!;
  const hashes: Record<string, Hash> = {};
  const expiring: string[] = [];
  IDS.forEach((id, i) => {
    const h = v[17 + 2 * FUNCTIONS.length + 2 * i] as Hash;
    const ttl = v[18 + 2 * FUNCTIONS.length + 2 * i] as number;
    // (its last event is what the channel said, not queue state: checked well-formed, then left
    // out of the comparison with the model)
    const { last_event: last, ...state } = h;
    if (last !== undefined) expect(parseLastEvent(last), `${id}: last_event ${last}`).toBeDefined();
    if (Object.keys(state).length > 0) hashes[id] = state;
    if (ttl >= 0) expiring.push(id);
  });
  return {
    now: Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000),
    s: norm({ queue, queued, tasks, leases, ended, dead, deadIndex, deadJunk, deadStats, endSet, hashes, expiring, grace: gracePttl > 0, outage, seen, workers, fq, turns, counts, running }),
  };
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const idOf = (raw: string): string => String((JSON.parse(raw) as { id: string | number }).id);
const add = (a: string[], x: string) => {
  if (!a.includes(x)) a.push(x);
};
const remove = (a: string[], x: string) => {
  const i = a.indexOf(x);
  if (i >= 0) a.splice(i, 1);
};
const leaseNumber = (lease: string) => Number(/^(\d+):/.exec(lease)?.[1]);
function omit(h: Hash, ...fields: string[]): Hash {
  const o = { ...h };
  for (const f of fields) delete o[f];
  return o;
}
/** A time a script wrote with its own TIME: must lie between the snapshots around the call. */
function scriptTime(value: string | undefined, pre: Snap, post: Snap, what: string): string {
  expect(value, `${what} written`).toBeDefined();
  const n = Number(value);
  expect(n >= pre.now && n <= post.now, `${what}=${value} within [${pre.now}, ${post.now}]`).toBe(true);
  return value!;
}
interface DeadEntry {
  key: string;
  reason: string;
  id?: string;
  raw: string;
  worker?: string;
  at: number;
  message: string;
  history?: unknown[];
  task?: boolean;
}
/** the dead letters, oldest first (by key) */
function deadEntries(s: State): DeadEntry[] {
  return Object.keys(s.dead)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => JSON.parse(s.dead[k]!) as DeadEntry);
}
const bump = (h: Hash, field: string, by = 1) => {
  h[field] = String(Number(h[field] ?? 0) + by);
};
const pad14 = (n: number) => String(n).padStart(14, '0');

/** lib/queue.lua placeOf: a new member (routing order) and its score (priority 0 here) */
function placeOf(exp: State, id: string, at: number): [string, number] {
  bump(exp.counts, 'seq');
  return [`${pad14(Number(exp.counts.seq))}:${id}`, at];
}
/** lib/queue.lua enqueue, for the group '' */
function enqueueModel(exp: State, fn: string, member: string, score: number): void {
  (exp.fq[fn] ??= {})[member] = score;
  if (exp.turns[fn] === undefined) exp.turns[fn] = 1;
  bump(exp.counts, `q:${fn}`);
}
/** lib/queue.lua dequeue, for the group '': the member taken, or undefined */
function dequeueModel(exp: State, fn: string): string | undefined {
  const q = exp.fq[fn];
  if (!q) return undefined;
  const [member] = Object.entries(q).sort(([ma, a], [mb, b]) => a - b || (ma < mb ? -1 : 1))[0] ?? [];
  if (member === undefined) return undefined;
  delete q[member];
  if (Object.keys(q).length) exp.turns[fn]! += 1;
  else {
    delete exp.fq[fn];
    delete exp.turns[fn];
  }
  bump(exp.counts, `q:${fn}`, -1);
  return member;
}
/** lib/put-back.lua: a RUNNING task back in its function's structure, at its place; limits released; a wake marker into an empty queue */
function putBackModel(exp: State, id: string, h: Hash, now: string, woken: { done: boolean }): Hash {
  let member = h.member;
  let score = Number(h.score);
  if (!member || h.score === undefined) [member, score] = placeOf(exp, id, Number(h.start));
  // (no limit is set here: nothing is counted in `running`, lib/limits.lua)
  enqueueModel(exp, h.function!, member, score);
  if (!woken.done) {
    woken.done = true;
    // only into an empty queue: a queue holding anything ends every wait already
    if (exp.queue.length === 0) exp.queue.unshift('wake');
  }
  return { ...omit(h, 'lease', 'worker'), state: 'QUEUED', update: now, member, score: String(score) };
}

// ---------------------------------------------------------------------------------------------
// The simulation

interface Belief {
  id: string;
  lease: string;
  raw: string;
  attempt: number;
  start: number;
  manualEnd: boolean;
}
interface SimWorker {
  name: string;
  functions: string[];
  held: Map<string, Belief>;
  finished: Ending[];
  /** the epoch of Redis's data at this worker's last heartbeat (as Worker keeps it) */
  epoch: string;
}
interface TaskModel {
  /** queue entries ever created for this id (accepted submits + raw pushes) */
  pushes: number;
  /** ends ever written (finish or max-attempts park) */
  ends: number;
  /** max-attempts parks ever written */
  parks: number;
  /** the current incarnation (a hash deleted by reap starts a new one) has ended */
  endedNow: boolean;
  /** lease returned by the latest claim (or re-assertion) */
  latestLease?: string;
  incarnation: number;
}

export class Sim {
  readonly keys: Keys;
  readonly workers: SimWorker[];
  readonly model = new Map<string, TaskModel>();
  /** `${incarnation}|${id}|${lease}` of every claim that a requeue ended (requeued or parked) */
  readonly requeuedClaims = new Set<string>();
  readonly trace: string[] = [];
  /** ids whose hash was lost with no one to re-assert it, until a claim writes one again */
  readonly lost = new Set<string>();
  /**
   * per function, RUNNING tasks whose hash a `lose` deleted alone: their running count stays
   * (it goes only with all of Redis's data, which `lose` does not model)
   */
  /** ids whose lease-index entry a `lose` left behind (a requeue pass drops it) */
  readonly staleIndex = new Set<string>();
  /** ids RUNNING when a flush lost their hash (their holder re-asserts the same copy) */
  readonly flushed = new Set<string>();
  private cur!: Snap;

  constructor(
    readonly redis: Redis,
    keyPrefix: string,
    readonly cfg: SimConfig,
  ) {
    this.keys = keysFor(keyPrefix);
    this.workers = WORKERS.map((w) => ({ ...w, held: new Map(), finished: [], epoch: '' }));
    for (const id of IDS) this.model.set(id, { pushes: 0, ends: 0, parks: 0, endedNow: false, incarnation: 0 });
  }

  async init(): Promise<void> {
    // Every worker registered before it claimed (register.lua makes the epoch of Redis's data):
    // it knows the epoch, so a cleaned-up hash is told apart from data lost by Redis.
    await this.redis.set(this.keys.epoch, 'e0');
    for (const w of this.workers) w.epoch = 'e0';
    this.cur = await snapshot(this.redis, this.keys);
  }

  private m(id: string): TaskModel {
    return this.model.get(id)!;
  }

  private sortedBeliefs(w: SimWorker): Belief[] {
    return [...w.held.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  private pick(w: SimWorker, mask: number): Belief[] {
    const all = this.sortedBeliefs(w);
    return mask === 0 ? all : all.filter((_, i) => (mask >> i) & 1);
  }
  /** the i-th (mod) worker that has something to act on, so that few operations are no-ops */
  private busy(i: number, has: (w: SimWorker) => boolean): SimWorker | undefined {
    const ws = this.workers.filter(has);
    return ws.length ? ws[i % ws.length] : undefined;
  }
  private running(s: State): string[] {
    return IDS.filter((id) => s.hashes[id]?.state === 'RUNNING');
  }

  /** Run one operation, check it against the reference and the invariants. */
  async step(op: Op): Promise<void> {
    const pre = this.cur;
    const ctx: StepCtx = { claimed: new Set(), handedBack: new Set(), retried: new Set() };
    let note: string;
    try {
      note = await this.apply(op, pre, ctx);
      this.checkInvariants(pre, this.cur, ctx);
    } catch (e) {
      this.trace.push(`${describeOp(op)}  <-- FAILED`);
      const err = e as Error;
      err.message = `${err.message}\n\nops run (this run, key prefix ${this.keys.newQueue.replace(/new-task$/, '')}):\n  ${this.trace.join('\n  ')}`;
      throw err;
    }
    this.trace.push(`${describeOp(op)}${note ? ` -> ${note}` : ''}`);
  }

  private async apply(op: Op, pre: Snap, ctx: StepCtx): Promise<string> {
    const { redis, keys } = this;
    switch (op.k) {
      case 'submit': {
        const t = TASKS[op.t]!;
        const taken = t.id in pre.s.hashes || pre.s.queued.includes(t.id);
        const ok = await submit(redis, keys, t.id, t.raw);
        const post = await this.read();
        expect(ok, `submit ${t.id}: accepted iff no hash and not queued`).toBe(!taken);
        const exp = clone(pre.s);
        if (ok) {
          exp.queue.unshift(t.raw);
          add(exp.queued, t.id);
          this.m(t.id).pushes++;
        }
        this.expectState(post, exp, `submit ${t.id}`);
        return String(ok);
      }
      case 'place': {
        const t = TASKS[op.t]!;
        const taken = t.id in pre.s.hashes || pre.s.queued.includes(t.id);
        const ok = await submit(redis, keys, t.id, t.raw, { fn: t.fn, group: '', priority: 0, manualEnd: t.manualEnd });
        const post = await this.read();
        expect(ok, `place ${t.id}: accepted iff no hash and not queued`).toBe(!taken);
        const exp = clone(pre.s);
        if (ok) {
          const now = Number(post.s.hashes[t.id]?.update);
          const wasEmpty = exp.queue.length === 0;
          const [member, score] = placeOf(exp, t.id, now);
          exp.hashes[t.id] = { state: 'QUEUED', update: String(now), function: t.fn, data: t.raw, member, score: String(score), ...(t.manualEnd ? { manual_end: '1' } : {}) };
          enqueueModel(exp, t.fn, member, score);
          if (wasEmpty) exp.queue.unshift('wake');
          this.m(t.id).pushes++;
        }
        this.expectState(post, exp, `place ${t.id}`);
        return String(ok);
      }
      case 'pushRaw': {
        const t = TASKS[op.t]!;
        await redis.lpush(keys.newQueue, t.raw);
        const post = await this.read();
        this.m(t.id).pushes++;
        const exp = clone(pre.s);
        exp.queue.unshift(t.raw);
        this.expectState(post, exp, `LPUSH ${t.id}`);
        return '';
      }
      case 'claim':
        return this.claimStep(this.workers[op.w]!, op.n, pre, ctx);
      case 'renew':
        return this.renewStep(this.workers[op.w]!, this.pick(this.workers[op.w]!, op.mask), pre);
      case 'finish':
      case 'finishBatch': {
        const w = this.busy(op.w, (x) => x.held.size > 0);
        if (!w) return 'no-op';
        const all = this.sortedBeliefs(w);
        const list = op.k === 'finish' ? [all[op.i % all.length]!] : this.pick(w, op.mask);
        if (list.length === 0) return 'no-op';
        const endings = list.map((b, j): Ending => {
          const outcome = op.k === 'finish' ? op.outcome : op.outcomes[j % op.outcomes.length]!;
          const payloadJson = outcome === 'succeeded' ? JSON.stringify({ ok: b.id }) : JSON.stringify({ name: 'Error', message: `boom ${b.id}` });
          return { id: b.id, lease: b.lease, outcome, payloadJson };
        });
        const written = await this.finishStep(endings, pre);
        endings.forEach((e, j) => {
          // as the task machine: written -> released; refused -> abandoned, released too
          w.held.delete(e.id);
          if (written[j]) w.finished.push(e);
        });
        return `${w.name} ${endings.map((e, j) => `${e.id}@${e.lease} ${e.outcome}: ${String(written[j])}`).join(', ')}`;
      }
      case 'finishAgain': {
        const w = this.busy(op.w, (x) => x.finished.length > 0);
        if (!w) return 'no-op';
        const f = w.finished[op.i % w.finished.length]!;
        const [written] = await this.finishStep([f], pre);
        return `${w.name} ${f.id}@${f.lease}: ${String(written)}`;
      }
      case 'handBack': {
        const w = this.busy(op.w, (x) => x.held.size > 0);
        return w ? this.handBackStep(w, this.pick(w, op.mask), pre, ctx) : 'no-op';
      }
      case 'age': {
        const running = this.running(pre.s);
        if (running.length === 0) return 'no-op';
        const id = running[op.i % running.length]!;
        const back = 2 * this.cfg.taskTimeout;
        const exp = clone(pre.s);
        if (!op.indexOnly) {
          const update = String(Number(pre.s.hashes[id]!.update) - back);
          await redis.hset(keys.task(id), 'update', update);
          exp.hashes[id]!.update = update;
        }
        await redis.zadd(keys.leases, pre.s.leases[id]! - back, id);
        exp.leases[id] = pre.s.leases[id]! - back;
        this.expectState(await this.read(), exp, `age ${id}`);
        return id;
      }
      case 'stall': {
        const w = this.busy(op.w, (x) => x.held.size > 0);
        if (!w) return 'no-op';
        const back = 2 * this.cfg.taskTimeout;
        const ids = this.running(pre.s).filter((id) => w.held.get(id)?.lease === pre.s.hashes[id]!.lease);
        const exp = clone(pre.s);
        for (const id of ids) {
          const update = String(Number(pre.s.hashes[id]!.update) - back);
          await redis.hset(keys.task(id), 'update', update);
          await redis.zadd(keys.leases, pre.s.leases[id]! - back, id);
          exp.hashes[id]!.update = update;
          exp.leases[id] = pre.s.leases[id]! - back;
        }
        this.expectState(await this.read(), exp, `stall ${w.name}`);
        return `${w.name} [${ids.join(' ')}]`;
      }
      case 'requeue':
        return this.requeueStep(op.limit, pre);
      case 'reap':
        return this.reapStep(op.limit, pre);
      case 'flush': {
        const running = this.running(pre.s);
        if (running.length === 0) return 'no-op';
        const id = running[op.i % running.length]!;
        const h = pre.s.hashes[id]!;
        const holders = this.workers.filter((w) => w.held.get(id)?.lease === h.lease);
        expect(holders.map((w) => w.name), `exactly one worker holds ${id}'s current lease ${h.lease}`).toEqual([h.worker]);
        // Redis lost its data (here: this hash and the epoch that tells workers so; no limit is
        // set, so there is no running count to lose). The holder re-asserts it.
        await redis.del(keys.task(id), keys.epoch);
        this.flushed.add(id);
        const mid = await this.read();
        const note = await this.renewStep(holders[0]!, this.sortedBeliefs(holders[0]!), mid);
        // Re-asserted from the worker's copy: the same claim, only `update` (and history) differ.
        const after = this.cur.s.hashes[id];
        // (its place in its queue, member and score, is not known to the worker: it gets a new one if put back;
        // nor its deaths, lost with its history: they count from 0 again)
        expect(after && omit(after, 'update'), `${id} re-asserted as it was`).toEqual(omit(h, 'update', 'history', 'member', 'score', 'deaths'));
        return `${id}; ${note}`;
      }
      case 'lose': {
        const running = this.running(pre.s);
        if (running.length === 0) return 'no-op';
        const id = running[op.i % running.length]!;
        await redis.del(keys.task(id));
        await redis.zadd(keys.leases, pre.s.leases[id]! - 2 * this.cfg.taskTimeout, id);
        this.staleIndex.add(id);
        const exp = clone(pre.s);
        delete exp.hashes[id];
        exp.leases[id] = pre.s.leases[id]! - 2 * this.cfg.taskTimeout;
        this.expectState(await this.read(), exp, `lose ${id}`);
        for (const w of this.workers) w.held.delete(id);
        const m = this.m(id);
        m.pushes--; // the one RUNNING copy is gone with the data
        m.incarnation++;
        m.endedNow = false;
        m.latestLease = undefined;
        this.lost.add(id);
        return id;
      }
      case 'silence': {
        const exp = clone(pre.s);
        for (const [member, score] of Object.entries(pre.s.seen)) {
          const s = Number(score) - op.by * this.cfg.taskTimeout;
          await redis.zadd(keys.workerSeen, s, member);
          exp.seen[member] = String(s);
        }
        // (and Redis saw no one meanwhile, the monitors' sweeps included: an outage)
        if (pre.s.outage.seen !== undefined) {
          const seen = String(Number(pre.s.outage.seen) - op.by * this.cfg.taskTimeout);
          await redis.hset(keys.outage, 'seen', seen);
          exp.outage.seen = seen;
        }
        this.expectState(await this.read(), exp, 'silence');
        return '';
      }
      case 'graceEnds': {
        await redis.del(keys.grace);
        const exp = clone(pre.s);
        exp.grace = false;
        this.expectState(await this.read(), exp, 'grace ends');
        return '';
      }
      case 'retryDead': {
        const entries = deadEntries(pre.s);
        if (entries.length === 0) return 'no-op';
        const e = entries[op.i % entries.length]!;
        // what its own bytes are, or a duplicate while the task whose id it holds is there:
        // queued again, it would be parked again; refused, nothing moves
        const refused = (e.reason in DEAD_LETTER_REASONS && 'refusedAsIs' in DEAD_LETTER_REASONS[e.reason as DeadLetterReason]) || (e.reason === 'duplicate' && e.id !== undefined && pre.s.hashes[e.id] !== undefined);
        if (refused) {
          await expect(retryDead(redis, keys, e.key), `retryDead of ${e.reason}`).rejects.toThrow(/was parked for/);
          this.expectState(await this.read(), pre.s, `retryDead ${e.key} refused`);
          return `${e.key} ${e.reason} refused`;
        }
        const ok = await retryDead(redis, keys, e.key);
        const post = await this.read();
        expect(ok, 'retryDead of a listed entry').toBe(true);
        const exp = clone(pre.s);
        delete exp.dead[e.key];
        delete exp.deadIndex[e.key];
        remove(exp.deadJunk, e.key);
        bump(exp.deadStats, `retried:${e.reason}`);
        exp.queue.unshift(e.raw);
        const h = e.id === undefined ? undefined : exp.hashes[e.id];
        if (e.task && h?.dead === e.key) {
          // the parked task is queued again: its hash says so, with its attempts and deaths at 0
          const now = scriptTime(post.s.hashes[e.id!]?.update, pre, post, `retryDead ${e.id}.update`);
          exp.hashes[e.id!] = { ...omit(h, 'outcome', 'error', 'result', 'end', 'lease', 'worker', 'parked', 'dead', 'member', 'score'), state: 'QUEUED', attempt: '0', deaths: '0', update: now };
          remove(exp.expiring, e.id!);
          ctx.retried.add(e.id!);
          const m = this.m(e.id!);
          m.endedNow = false;
          if (e.reason === 'max_attempts') {
            // that park counts among the ends; the task is pushed anew
            m.parks--;
            m.pushes++;
          }
        }
        this.expectState(post, exp, `retryDead ${e.key}`);
        return `${e.key} ${e.reason} ${e.id ?? ''}`;
      }
    }
  }

  private async read(): Promise<Snap> {
    this.cur = await snapshot(this.redis, this.keys);
    return this.cur;
  }

  private expectState(post: Snap, exp: State, what: string): void {
    expect(post.s, `${what}: Redis state differs from the reference`).toEqual(norm(exp));
  }

  // -------------------------------------------------------------------------------------------
  // claim.lua

  private async claimStep(w: SimWorker, n: number, pre: Snap, ctx: StepCtx): Promise<string> {
    const r = await claimAs(this.redis, this.keys, w.name, n, MAX_BYTES, w.functions);
    const post = await this.read();
    const exp = clone(pre.s);
    const claimed: { id: string; raw: string; attempt: number; lease: string }[] = [];
    const parked: { reason: string; id: string; raw: string; task: boolean; fn: string }[] = [];
    const now = String(r.now);
    expect(Number(now) >= pre.now && Number(now) <= post.now, `claim time ${now} within [${pre.now}, ${post.now}]`).toBe(true);
    const room: Record<string, number> = Object.fromEntries(w.functions.map((f) => [f, n]));
    const claimTask = (id: string, fn: string, raw: string | undefined) => {
      const h = exp.hashes[id] ?? {};
      const attempt = Number(h.attempt ?? 0) + 1;
      const claims = Number(h.claims ?? 0) + 1;
      const lease = `${claims}:${w.name}`;
      exp.hashes[id] = { ...h, state: 'RUNNING', start: now, update: now, worker: w.name, lease, attempt: String(attempt), claims: String(claims), ...(raw ? { data: raw } : {}) };
      add(exp.tasks, id);
      exp.leases[id] = Number(now);
      remove(exp.queued, id);
      // (no limit is set here: nothing is counted in `running`, lib/limits.lua)
      claimed.push({ id, raw: exp.hashes[id]!.data!, attempt, lease });
      room[fn]!--;
    };
    // 1. routing, in order, up to max(64, 2n) entries; wake markers are dropped. A worker of one
    // function, with no entry in that window that could take a turn or a priority (no words
    // `group`, `priority`, no \u escape), routes entry by entry and stops where its room ends.
    const window = Math.max(64, 2 * n);
    // A worker of several functions does so too when none of them has anything queued (the swarm
    // here is calm: no pause, limit or delay): the ingress is then taken in its order.
    const plainWindow = !exp.queue.slice(-window).some((raw) => /group|priority|\\u/.test(raw));
    const stepwise = plainWindow && (w.functions.length === 1 || w.functions.every((f) => exp.turns[f] === undefined));
    const batch: string[] = [];
    const fnOf = (raw: string) => (JSON.parse(raw) as { function: string }).function;
    // the fast path waits for the functions ahead in this claim's turn (no rotation here: the
    // worker's order) that could take a task: queued ones, or a later entry of the batch
    const firstInTurn = (fn: string, i: number) =>
      w.functions.slice(0, w.functions.indexOf(fn)).every((f) => !(room[f]! > 0) || (exp.turns[f] === undefined && !batch.slice(i + 1).some((r) => fnOf(r) === f)));
    // lib/queue.lua placeOf in a claim: routing numbers reserved a block at a time, as many as
    // the room the claim may still fill and no more than the entries it may still route, `left`
    // (numbers left unused are skipped)
    let seqNext = 0;
    let seqLast = -1;
    const place = (id: string, at: number, left: number): [string, number] => {
      if (seqNext > seqLast) {
        const block = Math.max(1, Math.min(left, w.functions.reduce((sum, f) => sum + Math.max(0, room[f]!), 0)));
        bump(exp.counts, 'seq', block);
        seqLast = Number(exp.counts.seq);
        seqNext = seqLast - block + 1;
      }
      return [`${pad14(seqNext++)}:${id}`, at];
    };
    function route(i: number, raw: string, left: number) {
      const task = JSON.parse(raw) as { id: string; function: string; manual_end?: boolean };
      const id = String(task.id);
      const h = exp.hashes[id];
      if (h?.state === 'RUNNING' || h?.state === 'END' || (h?.state === 'QUEUED' && h.member)) {
        parked.push({ reason: 'duplicate', id, raw, task: false, fn: task.function });
        return;
      }
      const fn = task.function;
      // its place is kept, also when it is claimed at once (put back, it returns there)
      const [member, score] = place(id, Number(now), left);
      exp.hashes[id] = { ...(h ?? {}), function: fn, member, score: String(score), ...(task.manual_end === true ? { manual_end: '1' } : {}) };
      const direct = (room[fn] ?? 0) > 0 && claimed.length < n && exp.turns[fn] === undefined && firstInTurn(fn, i);
      if (direct) claimTask(id, fn, raw);
      else {
        exp.hashes[id] = { ...exp.hashes[id]!, state: 'QUEUED', update: now, data: raw };
        remove(exp.queued, id);
        enqueueModel(exp, fn, member, score);
      }
    }
    // (what the claim may still route: the window, or what the queue held, less what it popped)
    const reach = Math.min(window, exp.queue.length);
    let popped = 0;
    for (let i = 0; i < window; i++) {
      if (stepwise && (claimed.length >= n || w.functions.every((f) => room[f]! <= 0))) break;
      const raw = exp.queue.pop();
      if (raw === undefined) break;
      popped++;
      if (raw === 'wake') continue;
      batch.push(raw);
      if (stepwise) route(batch.length - 1, raw, reach - popped + 1);
    }
    if (!stepwise) for (const [i, raw] of batch.entries()) route(i, raw, batch.length - i);
    // 2. claiming from the worker's functions, in its order (no rotation here)
    for (const fn of w.functions) {
      while (room[fn]! > 0 && claimed.length < n) {
        const member = dequeueModel(exp, fn);
        if (member === undefined) break;
        const id = member.slice(15);
        if (exp.hashes[id]?.state === 'QUEUED' && exp.hashes[id]?.data) claimTask(id, fn, undefined);
      }
    }
    this.expectNewDead(
      pre,
      post,
      exp,
      parked.map((p) => ({ reason: p.reason, id: p.id, raw: p.raw, worker: w.name, task: p.task })),
      `claim by ${w.name}`,
      Number(now),
    );
    expect(r.claimed, `claim by ${w.name}: claimed`).toEqual(claimed);
    expect(
      r.parked.map((p) => p.reason),
      `claim by ${w.name}: parked`,
    ).toEqual(parked.map((p) => p.reason));
    this.expectState(post, exp, `claim by ${w.name}`);

    for (const c of r.claimed) {
      const h = post.s.hashes[c.id]!;
      w.held.set(c.id, { ...c, start: Number(h.start), manualEnd: h.manual_end === '1' });
      this.m(c.id).latestLease = c.lease;
      ctx.claimed.add(c.id);
    }
    return [...claimed.map((c) => `${c.id}@${c.lease}#${c.attempt}`), ...parked.map((p) => `${p.id}:${p.reason}`)].join(' ') || 'nothing';
  }

  /**
   * The new dead letters: keys that follow the store's seq, in order, with the given fields, at
   * `at`; the junk ones (no task) in the junk index; the counts per reason. Returns their keys.
   */
  private expectNewDead(pre: Snap, post: Snap, exp: State, added: Record<string, unknown>[], what: string, at: number): string[] {
    const fresh = Object.keys(post.s.dead)
      .filter((k) => !(k in pre.s.dead))
      .sort((a, b) => Number(a) - Number(b));
    // keys follow the store's seq, which starts at the Redis time of the first parking
    const seq0 = pre.s.deadStats.seq !== undefined ? Number(pre.s.deadStats.seq) : fresh.length ? Number(fresh[0]) - 1 : 0;
    if (pre.s.deadStats.seq === undefined && fresh.length) expect(seq0 >= pre.now && seq0 <= post.now, `${what}: the first key follows the Redis time ${seq0}`).toBe(true);
    expect(fresh, `${what}: dead-letter keys added`).toEqual(added.map((_, j) => String(seq0 + j + 1)));
    fresh.forEach((key, j) => {
      const e = JSON.parse(post.s.dead[key]!) as DeadEntry;
      const { task, ...fields } = added[j]!;
      expect(e, `${what}: dead letter ${key}`).toMatchObject({ key, at, ...fields });
      expect(e.task === true, `${what}: dead letter ${key} is a task's`).toBe(task === true);
      expect(typeof e.message).toBe('string');
      exp.dead[key] = post.s.dead[key]!;
      exp.deadIndex[key] = at;
      if (task !== true) add(exp.deadJunk, key);
      bump(exp.deadStats, `parked:${e.reason}`);
    });
    if (fresh.length) exp.deadStats.seq = String(seq0 + fresh.length);
    return fresh;
  }

  // -------------------------------------------------------------------------------------------
  // renew.lua (+ reassert.lua for missing hashes, as Worker.renewAll)

  private async renewStep(w: SimWorker, list: Belief[], pre: Snap): Promise<string> {
    // A missing hash is re-asserted only if Redis lost its data: the epoch changed since w saw it.
    const dataLost = (await this.redis.get(this.keys.epoch)) !== w.epoch;
    const lost: string[] = [];
    const missing: string[] = [];
    const current: string[] = [];
    for (const b of list) {
      const h = pre.s.hashes[b.id];
      if (!h) missing.push(b.id);
      else if (h.state === 'RUNNING' && h.lease === b.lease) current.push(b.id);
      else if ((h.state === 'END' && h.lease === b.lease) || h.retry_lease === b.lease) continue; // our own END crossed it
      else lost.push(b.id);
    }
    const r = await renewLeases(this.redis, this.keys, w.name, list);
    const gone = [...r.lost];
    const reasserted: string[] = [];
    for (const id of r.missing) {
      const { manualEnd: _manualEnd, ...held } = w.held.get(id)!;
      const ok = await reassert(this.redis, this.keys, w.name, held, w.epoch);
      if (ok) reasserted.push(id);
      else gone.push(id);
    }
    w.epoch = r.epoch;
    const post = await this.read();
    expect(r.lost, `renew by ${w.name}: lost`).toEqual(lost);
    expect(r.missing, `renew by ${w.name}: missing`).toEqual(missing);
    // the monitors' taskTimeout, as their last sweep wrote it (none before one has swept)
    expect(r.taskTimeout, `renew by ${w.name}: taskTimeout`).toBe(pre.s.outage.timeout === undefined ? undefined : Number(pre.s.outage.timeout));
    const exp = clone(pre.s);
    this.expectOutageCheck(exp, r.now, false);
    exp.seen[w.name] = String(r.now + 3 * HEARTBEAT_INTERVAL); // overdue after three missed heartbeats
    add(exp.workers, w.name);
    for (const id of current) {
      exp.hashes[id]!.update = String(r.now);
      exp.leases[id] = r.now;
    }
    // An id submitted again after the loss is queued: the queued copy wins, the claim is dropped.
    const revived = dataLost ? missing.filter((id) => !pre.s.queued.includes(id)) : [];
    for (const id of revived) {
      const b = w.held.get(id)!;
      const def = TASKS.find((t) => t.id === id)!;
      const now = scriptTime(post.s.hashes[id]?.update, pre, post, `reassert ${id}.update`);
      exp.hashes[id] = {
        state: 'RUNNING',
        start: String(b.start),
        update: now,
        worker: w.name,
        data: b.raw,
        attempt: String(b.attempt),
        lease: b.lease,
        function: def.fn,
        claims: String(leaseNumber(b.lease) || 1),
        ...(b.manualEnd ? { manual_end: '1' } : {}),
      };
      add(exp.tasks, id);
      exp.leases[id] = Number(now);
      // (no limit is set here: nothing is counted in `running`, lib/limits.lua)
      const m = this.m(id);
      if (!this.flushed.delete(id)) {
        // After Redis lost its data, a worker still holding an old claim of a task that had ended
        // and been cleaned up brings it back: the loss erased the END it could have seen. That
        // is a new copy of the task (at-least-once), not a lost or doubled one.
        m.pushes++;
        m.incarnation++;
        m.endedNow = false;
      }
      m.latestLease = b.lease;
    }
    expect(reasserted, `renew by ${w.name}: every missing hash not queued again re-asserted if Redis lost its data, none otherwise`).toEqual(revived);
    // A stale lease changes nothing: the hash of every lost id is as it was.
    for (const id of lost) expect(post.s.hashes[id], `renew by ${w.name} with stale lease: ${id} untouched`).toEqual(pre.s.hashes[id]);
    this.expectState(post, exp, `renew by ${w.name}`);
    for (const id of gone) w.held.delete(id);
    return `renewed [${current.join(' ')}] lost [${lost.join(' ')}] reasserted [${reasserted.join(' ')}]`;
  }

  /**
   * The outage check of renew.lua and requeue.lua (lib/swarm-silence.lua): the seen index holds,
   * per worker, when it is overdue (three missed heartbeats); when every worker is overdue, Redis
   * saw no heartbeat and no sweep for over taskTimeout / 2, and this silence was not answered
   * yet, requeues are held for one taskTimeout (once per silence).
   */
  private expectOutageCheck(exp: State, now: number, fromRequeue: boolean): boolean {
    if (fromRequeue) exp.outage.timeout = String(this.cfg.taskTimeout);
    const seen = exp.outage.seen;
    // (every heartbeat and sweep is noted, held or not)
    exp.outage.seen = String(now);
    if (!exp.outage.timeout) return false;
    const last = Object.entries(exp.seen).sort(([ma, a], [mb, b]) => Number(a) - Number(b) || (ma < mb ? -1 : 1)).at(-1);
    // (overdue workers alone are no silence: Redis must also have seen no heartbeat and no sweep for over taskTimeout / 2)
    const quiet = seen === undefined || now - Number(seen) > this.cfg.taskTimeout / 2;
    if (last && now > Number(last[1]) && exp.outage.silence !== last[1] && quiet) {
      exp.outage.silence = last[1];
      exp.grace = true;
      return true;
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // finish.lua

  private async finishStep(endings: Ending[], pre: Snap): Promise<EndAnswer[]> {
    const written = await finishTasks(this.redis, this.keys, endings);
    const post = await this.read();
    const exp = clone(pre.s);
    const expected: boolean[] = [];
    let now: string | undefined;
    for (const { id, lease, outcome, payloadJson } of endings) {
      const h = exp.hashes[id];
      if (h?.state === 'RUNNING' && h.lease === lease) {
        now ??= scriptTime(post.s.hashes[id]?.end, pre, post, `finish ${id}.end`);
        exp.hashes[id] = { ...h, state: 'END', update: now, end: now, outcome, [outcome === 'succeeded' ? 'result' : 'error']: payloadJson };
        delete exp.leases[id];
        exp.ended.push(id);
        // (no limit is set here: nothing is counted in `running`, lib/limits.lua)
        this.m(id).ends++;
        this.m(id).endedNow = true;
        expected.push(true);
      } else {
        // fenced, or a retry of a finish that was written (same lease, already END): no write
        expect(post.s.hashes[id], `finish ${id} with ${lease} (hash ${h?.state} ${h?.lease}) writes nothing`).toEqual(pre.s.hashes[id]);
        expected.push(h?.state === 'END' && h.lease === lease);
      }
    }
    expect(written, `finish ${endings.map((e) => `${e.id}@${e.lease}`).join(' ')}`).toEqual(expected);
    if (!expected.some((x, j) => x && pre.s.hashes[endings[j]!.id]?.state === 'RUNNING')) {
      expect(post.s, 'finish that writes nothing: nothing changes').toEqual(pre.s);
    }
    this.expectState(post, exp, 'finish');
    return written;
  }

  // -------------------------------------------------------------------------------------------
  // hand-back.lua

  private async handBackStep(w: SimWorker, list: Belief[], pre: Snap, ctx: StepCtx): Promise<string> {
    if (list.length === 0) return 'no-op'; // the wrapper makes no call
    const back = await handBack(this.redis, this.keys, list);
    const post = await this.read();
    const exp = clone(pre.s);
    const expected: string[] = [];
    let now: string | undefined;
    const woken = { done: false };
    for (const b of list) {
      const h = exp.hashes[b.id];
      if (h?.state === 'RUNNING' && h.lease === b.lease) {
        now ??= scriptTime(post.s.hashes[b.id]?.update, pre, post, `handBack ${b.id}.update`);
        // back in its function's structure, at its place, its attempt given back
        exp.hashes[b.id] = { ...putBackModel(exp, b.id, h, now, woken), attempt: String(Number(h.attempt) - 1) };
        delete exp.leases[b.id];
        remove(exp.tasks, b.id);
        expected.push(b.id);
        ctx.handedBack.add(b.id);
      } else {
        expect(post.s.hashes[b.id], `handBack by ${w.name} with stale lease ${b.lease}: ${b.id} untouched`).toEqual(pre.s.hashes[b.id]);
      }
    }
    expect(back, `handBack by ${w.name}`).toEqual(expected);
    this.expectState(post, exp, `handBack by ${w.name}`);
    for (const b of list) w.held.delete(b.id);
    return `${w.name} [${back.join(' ')}] of [${list.map((b) => `${b.id}@${b.lease}`).join(' ')}]`;
  }

  // -------------------------------------------------------------------------------------------
  // requeue.lua

  private async requeueStep(limit: number, pre: Snap): Promise<string> {
    const { taskTimeout: T, maxAttempts } = this.cfg;
    const r = await requeueStale(this.redis, this.keys, T, limit, maxAttempts, MONITOR);
    const post = await this.read();
    const exp = clone(pre.s);
    const newGrace = this.expectOutageCheck(exp, r.now, true);
    if (pre.s.grace || newGrace) {
      // held: nothing but the outage bookkeeping changes
      expect(r.graceLeft, 'requeue held by grace').toBeGreaterThan(0);
      expect([r.requeued, r.parked, r.nextDeadline, r.pruned], 'requeue held by grace').toEqual([[], [], r.now + r.graceLeft, []]);
      this.expectState(post, exp, 'requeue (held)');
      return `held ${r.graceLeft} ms`;
    }
    expect(r.graceLeft, 'requeue not held').toBe(0);
    const cutoff = r.now - T;
    const range = Object.entries(pre.s.leases)
      .filter(([, s]) => s <= cutoff)
      .sort(([a, sa], [b, sb]) => sa - sb || (a < b ? -1 : 1))
      .slice(0, limit);
    const requeued: string[] = [];
    const parked: string[] = [];
    const dead: Record<string, unknown>[] = [];
    const parkedHashes: [string, Hash][] = [];
    const woken = { done: false };
    for (const [id] of range) {
      const h = exp.hashes[id];
      if (h?.state !== 'RUNNING') {
        delete exp.leases[id];
        if (h?.state !== 'END') remove(exp.tasks, id); // a stale entry of a task queued again: out of tasks too
        continue;
      }
      if (Number(h.update) > cutoff) {
        exp.leases[id] = Number(h.update); // the index lagged behind the hash: re-indexed, not requeued
        continue;
      }
      const m = this.m(id);
      const claimKey = `${m.incarnation}|${id}|${h.lease}`;
      expect(this.requeuedClaims.has(claimKey), `claim ${h.lease} of ${id} requeued twice`).toBe(false);
      this.requeuedClaims.add(claimKey);
      const attempt = Number(h.attempt ?? 0);
      const start = Number(h.start);
      const record = { attempt, worker: h.worker ?? '', start: Number.isFinite(start) && h.start !== undefined ? Math.floor(start) : null, end: r.now, outcome: 'died', reason: 'heartbeat timeout' };
      const after = post.s.hashes[id];
      const history = [...(h.history ? (JSON.parse(h.history) as unknown[]) : []), record];
      expect(after?.history && JSON.parse(after.history), `requeue ${id}: history`).toEqual(history);
      const now = String(r.now);
      delete exp.leases[id];
      // the deaths counted in the hash (none written: its history's `died`): this one added;
      // maxAttempts caps those, not attempts
      const before = h.deaths === undefined ? (h.history ?? '').split('"outcome":"died"').length - 1 : Number.isFinite(Number(h.deaths)) ? Math.floor(Number(h.deaths)) : 0;
      const deaths = Math.max(0, before) + 1;
      expect(after?.deaths, `requeue ${id}: deaths`).toBe(String(deaths));
      if (deaths >= maxAttempts) {
        const err = after?.error ? JSON.parse(after.error) : undefined;
        expect(err, `park ${id}: error`).toMatchObject({ name: 'MaxAttemptsError', code: 'ERR_MAX_ATTEMPTS', reason: 'max_attempts' });
        // parked as the task's: out of tasks, not queued for cleanup, kept until retried or purged
        parkedHashes.push([id, { ...omit(h, 'lease', 'result'), state: 'END', end: now, update: now, outcome: 'failed', error: after!.error!, history: after!.history!, deaths: String(deaths), parked: 'max_attempts' }]);
        remove(exp.tasks, id);
        // (no limit is set here: nothing is counted in `running`, lib/limits.lua)
        dead.push({ reason: 'max_attempts', id, raw: h.data, worker: MONITOR, history, task: true });
        parked.push(id);
        m.ends++;
        m.parks++;
        m.endedNow = true;
      } else {
        // back in its function's structure, at its place
        exp.hashes[id] = { ...putBackModel(exp, id, h, now, woken), history: after!.history!, deaths: String(deaths) };
        remove(exp.tasks, id);
        requeued.push(id);
      }
    }
    const deadKeys = this.expectNewDead(pre, post, exp, dead, 'requeue', r.now);
    parkedHashes.forEach(([id, h], j) => (exp.hashes[id] = { ...h, dead: deadKeys[j]! }));
    expect({ requeued: r.requeued, parked: r.parked }, 'requeue result').toEqual({ requeued, parked });
    const first = Object.values(exp.leases).sort((a, b) => a - b)[0];
    expect(r.nextDeadline, 'requeue nextDeadline').toBe(first === undefined ? -1 : first + T);
    // workers silent for two taskTimeouts leave `workers` and the seen index
    const pruned = Object.entries(exp.seen)
      .filter(([, score]) => Number(score) <= r.now - 2 * T)
      .sort(([ma, a], [mb, b]) => Number(a) - Number(b) || (ma < mb ? -1 : 1))
      .slice(0, limit)
      .map(([member]) => member);
    for (const member of pruned) {
      delete exp.seen[member];
      remove(exp.workers, member);
    }
    expect(r.pruned, 'requeue: pruned workers').toEqual(pruned);
    this.expectState(post, exp, 'requeue');
    if (range.length < limit) {
      // a whole pass: no stale entry survives it
      const staleLeft = Object.entries(post.s.leases).filter(([, s]) => s <= cutoff);
      expect(staleLeft, 'stale lease-index entries after a full requeue pass').toEqual([]);
    }
    return `requeued [${requeued.join(' ')}] parked [${parked.join(' ')}]`;
  }

  // -------------------------------------------------------------------------------------------
  // reap.lua

  private async reapStep(limit: number, pre: Snap): Promise<string> {
    const n = await reapEnded(this.redis, this.keys, this.cfg.retention, limit);
    const post = await this.read();
    const exp = clone(pre.s);
    const popped = exp.ended.splice(0, limit);
    expect(n, 'reap count, and what is left').toEqual({ reaped: popped.length, left: exp.ended.length });
    for (const id of popped) {
      remove(exp.tasks, id);
      const h = exp.hashes[id];
      if (h?.state !== 'END' || h.parked) continue;
      if (h.manual_end === '1') add(exp.endSet, id);
      else if (this.cfg.retention === 0) {
        delete exp.hashes[id];
        const m = this.m(id);
        m.incarnation++;
        m.endedNow = false;
        m.latestLease = undefined;
      } else add(exp.expiring, id);
    }
    this.expectState(post, exp, 'reap');
    return `[${popped.join(' ')}]`;
  }

  // -------------------------------------------------------------------------------------------
  // Global invariants, on the state after every operation

  private checkInvariants(pre: Snap, post: Snap, ctx: StepCtx): void {
    const s = post.s;
    const running = this.running(s);
    const dead = deadEntries(s);
    for (const id of this.lost) if (s.hashes[id]) this.lost.delete(id);
    for (const id of this.staleIndex) if ((!(id in s.leases) && !s.tasks.includes(id)) || s.hashes[id]?.state === 'RUNNING') this.staleIndex.delete(id);
    // A lost hash leaves its id in the index (until a requeue pass drops it) and in `tasks`, also
    // when the id is queued again meanwhile.
    const ghost = (id: string) => (this.lost.has(id) && !s.hashes[id]) || (this.staleIndex.has(id) && s.hashes[id]?.state !== 'RUNNING');

    // The lease index holds exactly the RUNNING tasks; `tasks` holds every RUNNING task, and
    // besides them only ended tasks not yet reaped.
    expect(
      Object.keys(s.leases)
        .filter((id) => !ghost(id))
        .sort(),
      'lease index = RUNNING tasks',
    ).toEqual(running);
    for (const id of s.tasks) {
      if (ghost(id)) continue;
      const st = s.hashes[id]?.state;
      expect(st === 'RUNNING' || (st === 'END' && s.ended.includes(id)), `${id} in tasks while ${st ?? 'no hash'}`).toBe(true);
    }
    for (const id of running) expect(s.tasks, 'tasks holds every RUNNING task').toContain(id);
    expect(new Set(s.ended).size, 'an id is queued for cleanup once').toBe(s.ended.length);
    for (const id of s.ended) expect(s.hashes[id]?.state, `${id} queued for cleanup`).toBe('END');
    for (const id of s.queued) expect(s.hashes[id], `${id} marked queued has no hash`).toBeUndefined();
    // The queue holds entries and wake markers only; each function's structure holds exactly its
    // routed tasks (QUEUED, with the member and score they were placed at), counted in q:<fn>;
    // the running count of a function is its RUNNING tasks (plus those whose hash was lost with
    // no one to re-assert it: their count is lost only with all of Redis's data).
    for (const raw of s.queue) if (raw !== 'wake') expect(() => idOf(raw), 'a queue entry').not.toThrow();
    // at most one wake marker is queued, as the oldest entry (stats() subtracts it)
    const marks = s.queue.filter((raw) => raw === 'wake').length;
    expect(marks, 'wake markers queued').toBeLessThanOrEqual(1);
    if (marks) expect(s.queue.at(-1), 'the wake marker is the oldest entry').toBe('wake');
    for (const fn of FUNCTIONS) {
      const routed = IDS.filter((id) => s.hashes[id]?.state === 'QUEUED' && s.hashes[id]?.member && s.hashes[id]?.function === fn);
      const members = Object.entries(s.fq[fn] ?? {}).map(([m, score]) => [m.slice(15), m, score] as const);
      expect(members.map(([id]) => id).sort(), `${fn}: its structure holds its routed tasks`).toEqual(routed.sort());
      for (const [id, m, score] of members) expect([s.hashes[id]!.member, Number(s.hashes[id]!.score)], `${id}: placed where its hash says`).toEqual([m, score]);
      expect(Number(s.counts[`q:${fn}`] ?? 0), `${fn}: q counts its routed tasks`).toBe(members.length);
      expect(s.turns[fn] !== undefined, `${fn}: its group has a turn iff it has tasks`).toBe(members.length > 0);
      // no limit is set in these runs: nothing is counted (lib/limits.lua counts only what a limit
      // watches), whatever runs, ends or is lost
      expect(s.running[`f:${fn}`], `${fn}: no running count without a limit`).toBeUndefined();
    }

    for (const id of IDS) {
      const m = this.m(id);
      const h = s.hashes[id];
      // No task is lost or doubled: every entry ever pushed is in exactly one place: queued,
      // claimed (RUNNING), ended (finish or max-attempts park) or parked at claim (dead letter).
      const q = s.queue.filter((raw) => raw !== 'wake' && idOf(raw) === id).length + (h?.state === 'QUEUED' && h.member ? 1 : 0);
      const r = h?.state === 'RUNNING' ? 1 : 0;
      const d = dead.filter((e) => e.id === id && e.reason !== 'max_attempts').length;
      expect(
        { queued: q, running: r, ended: m.ends, parkedAtClaim: d, total: q + r + m.ends + d },
        `${id}: every pushed entry in exactly one place (pushed ${m.pushes} times)`,
      ).toMatchObject({ total: m.pushes });
      expect(dead.filter((e) => e.id === id && e.reason === 'max_attempts').length, `${id}: one dead letter per max-attempts park`).toBe(m.parks);
      if (h) expect(h.state === 'END', `${id}: END iff it ended (state ${h.state})`).toBe(m.endedNow);

      if (h?.state === 'RUNNING') {
        // At most one valid lease: the latest claim's, held by exactly the worker that claimed it.
        expect(h.lease, `${id}: RUNNING under the latest claim's lease`).toBe(m.latestLease);
        expect(h.lease, `${id}: lease = claims:worker`).toBe(`${h.claims}:${h.worker}`);
        const holders = this.workers.filter((w) => w.held.get(id)?.lease === h.lease).map((w) => w.name);
        expect(holders, `${id}: holders of the valid lease`).toEqual([h.worker]);
      } else if (h?.state === 'QUEUED') {
        // (but the entries a `lose` left in `tasks` and the index, until a requeue pass drops them)
        const stale = ghost(id);
        expect([h.lease, h.worker, s.tasks.includes(id) && !stale, id in s.leases && !stale], `${id} QUEUED: no lease, worker, tasks or index`).toEqual([undefined, undefined, false, false]);
      } else if (h?.state === 'END' && h.parked) {
        // parked as the task's: its dead letter names it; out of tasks, index and cleanup; kept
        expect(h.outcome, `${id} parked: outcome`).toBe('failed');
        const e = dead.find((x) => x.key === h.dead);
        expect(e && [e.id, e.reason, e.task], `${id} parked: its dead letter ${h.dead}`).toEqual([id, h.parked, true]);
        expect([s.tasks.includes(id), id in s.leases, s.ended.includes(id), s.expiring.includes(id)], `${id} parked: not in tasks, index, cleanup; not expiring`).toEqual([
          false,
          false,
          false,
          false,
        ]);
      } else if (h?.state === 'END') {
        expect(['succeeded', 'failed', 'stopped'], `${id} END outcome`).toContain(h.outcome);
        const reaped = !s.ended.includes(id);
        if (reaped) {
          expect(s.tasks.includes(id), `${id} reaped: out of tasks`).toBe(false);
          expect(h.manual_end === '1' ? s.endSet.includes(id) : s.expiring.includes(id), `${id} reaped: in end-task (manual_end) or expiring`).toBe(true);
        }
      }

      const ph = pre.s.hashes[id];
      if (ph && h) {
        // attempt only grows, except by one on a hand-back; claims grows by one per claim, only.
        const [a0, a1, c0, c1] = [Number(ph.attempt ?? 0), Number(h.attempt ?? 0), Number(ph.claims ?? 0), Number(h.claims ?? 0)];
        if (ctx.claimed.has(id)) expect([a1, c1], `${id}: a claim adds one attempt and one claim`).toEqual([a0 + 1, c0 + 1]);
        else if (ctx.handedBack.has(id)) expect([a1, c1], `${id}: a hand-back gives back one attempt`).toEqual([a0 - 1, c0]);
        else if (ctx.retried.has(id)) expect([a1, c1], `${id}: a retried dead letter starts its attempts again`).toEqual([0, c0]);
        else expect([a1, c1], `${id}: attempt and claims unchanged`).toEqual([a0, c0]);
        // An ended task takes no writes (but a parked one may be queued again by retryDead).
        if (ph.state === 'END' && !ctx.retried.has(id)) expect(h, `${id} ended: no writes`).toEqual(ph);
      } else if (!ph && h && ctx.claimed.has(id)) {
        expect([h.attempt, h.claims], `${id}: first claim`).toEqual(['1', '1']);
      }
    }
  }
}

interface StepCtx {
  claimed: Set<string>;
  handedBack: Set<string>;
  /** parked tasks queued again by retryDead (their hash goes from END back to QUEUED) */
  retried: Set<string>;
}

// ---------------------------------------------------------------------------------------------
// Generators

const w = fc.nat(WORKERS.length - 1);
const t = fc.nat(TASKS.length - 1);

/** One operation; the weights favour claim, heartbeat, staleness, requeue and end. */
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ k: fc.constant('submit'), t }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('pushRaw'), t }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('place'), t }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('claim'), w, n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('renew'), w, mask: fc.oneof(fc.constant(0), fc.nat(15)) }) },
  {
    weight: 3,
    arbitrary: fc.record({ k: fc.constant('finish'), w, i: fc.nat(7), outcome: fc.constantFrom<EndOutcome>('succeeded', 'failed', 'stopped') }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('finishBatch'),
      w,
      mask: fc.oneof(fc.constant(0), fc.nat(15)),
      outcomes: fc.array(fc.constantFrom<EndOutcome>('succeeded', 'failed', 'stopped'), { minLength: 1, maxLength: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('finishAgain'), w, i: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('handBack'), w, mask: fc.oneof(fc.constant(0), fc.nat(15)) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('age'), i: fc.nat(7), indexOnly: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('stall'), w }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant('requeue'), limit: fc.constantFrom(1, 2, 100) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('reap'), limit: fc.constantFrom(1, 100) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('flush'), i: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('lose'), i: fc.nat(7) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('silence'), by: fc.constantFrom(1, 3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('graceEnds') }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('retryDead'), i: fc.nat(7) }) },
);

/** A sequence: a few submits and claims first (so that there is work), then random operations. */
export const sequenceArb: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.uniqueArray(t, { minLength: 1, maxLength: TASKS.length }).map((ts) => ts.map((i): Op => ({ k: 'submit', t: i }))),
    fc.array(fc.record({ k: fc.constant('claim'), w, n: fc.integer({ min: 1, max: 3 }) }), { maxLength: 3 }),
    fc.array(opArb, { minLength: 1, maxLength: 30, size: 'max' }),
  )
  .map(([a, b, c]) => [...a, ...b, ...c]);

/** Run one sequence on a fresh key prefix and check every step. */
export async function runSequence(redis: Redis, keyPrefix: string, cfg: SimConfig, ops: Op[]): Promise<Sim> {
  const sim = new Sim(redis, keyPrefix, cfg);
  await sim.init();
  for (const op of ops) await sim.step(op);
  return sim;
}

/**
 * The partition scenario: every task submitted, worker `a` claims up to three and goes silent,
 * the monitor requeues (or parks) them; then random operations, in which `a` still believes it
 * holds its old leases until a script tells it otherwise.
 */
export const staleHolderSequenceArb: fc.Arbitrary<Op[]> = fc
  .tuple(fc.shuffledSubarray(TASKS.map((_, i) => i), { minLength: TASKS.length }), w, fc.array(opArb, { minLength: 1, maxLength: 30, size: 'max' }))
  .map(([order, a, rest]): Op[] => [
    ...order.map((i): Op => ({ k: 'submit', t: i })),
    { k: 'claim', w: a, n: 3 },
    { k: 'stall', w: a },
    { k: 'requeue', limit: 100 },
    ...rest,
  ]);

/** Outages: silences, graces ending, heartbeats, stalls and requeues, densely interleaved. */
export const outageSequenceArb: fc.Arbitrary<Op[]> = fc
  .tuple(
    fc.uniqueArray(t, { minLength: 1, maxLength: TASKS.length }).map((ts) => ts.map((i): Op => ({ k: 'submit', t: i }))),
    fc.array(
      fc.oneof(
        { weight: 2, arbitrary: fc.record({ k: fc.constant('silence'), by: fc.constantFrom(1, 3) }) },
        { weight: 2, arbitrary: fc.record({ k: fc.constant('graceEnds') }) },
        { weight: 3, arbitrary: fc.record({ k: fc.constant('requeue'), limit: fc.constantFrom(1, 100) }) },
        { weight: 2, arbitrary: fc.record({ k: fc.constant('renew'), w, mask: fc.constant(0) }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('claim'), w, n: fc.integer({ min: 1, max: 3 }) }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('stall'), w }) },
      ),
      { minLength: 1, maxLength: 25, size: 'max' },
    ),
  )
  .map(([a, b]) => [...a, ...b]);
