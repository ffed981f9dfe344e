/**
 * Every Redis key and channel name, built from config in one place. The seed's names are the
 * defaults; the extra indexes (lease deadlines, dead letters, ended queue) sit beside them.
 */
import type { RedisConfig } from './config.js';

export interface Keys {
  /** prefix of every name, for building task keys inside Lua (`prefix .. taskPrefix .. id`) */
  taskKeyPrefix: string;
  newQueue: string;
  taskSet: string;
  endQueue: string;
  workerSet: string;
  /** zset id -> ms of last heartbeat (Redis time): the monitor's O(stale) index */
  leases: string;
  /** list of ended ids awaiting the monitor's cleanup (so a sweep never scans `tasks`) */
  ended: string;
  /** zset of the latest ids cleaned up with their hashes kept (endRetention) -> the order they ended in, capped: the dashboard's ended tasks */
  recentEnded: string;
  /** set of ids submitted through Client and not yet claimed (dedupe + QUEUED state) */
  queued: string;
  /**
   * the dead-letter store (src/lua/lib/park.lua): entries (hash key -> JSON {key, reason,
   * message, raw, id?, at, worker, task?, history?}), index (zset key -> when parked), junk
   * (zset: entries that hold no task) and stats (hash: seq and counts per reason)
   */
  dead: { entries: string; index: string; junk: string; stats: string };
  /** the four dead-letter keys in the order the scripts take them */
  deadStore: string[];
  /** zset worker -> ms last seen (Redis time); liveness of workers */
  workerSeen: string;
  /** present while requeues are held after the whole swarm went silent (an outage) */
  grace: string;
  /**
   * an id of this Redis's data: made by the first heartbeat after Redis lost its data (or ever),
   * so a worker can tell "Redis lost my task" (re-assert it) from "my task was cleaned up"
   */
  epoch: string;
  /** hash {timeout: the monitors' taskTimeout, silence: last-seen time that began the last outage, seen: the last heartbeat or sweep} */
  outage: string;
  /** hash worker -> the functions it serves (JSON), for stats and status */
  workerFunctions: string;
  /** hash worker -> JSON {state, at}: its machine's state value at its last change, for the dashboard */
  workerStates: string;
  /** hash worker -> the processes (`<host>-<pid>-<random>@<overdue ms>`, space-separated) heartbeating under that address: two at once are told (lib/address-owners.lua) */
  workerOwners: string;
  /**
   * hash worker -> its maxPayloadBytes, written as it registers: a Client given no limit of its
   * own refuses a large task only when it is over every live worker's (src/payload-limit.ts)
   */
  workerMaxPayload: string;
  /** zset monitor name -> Redis ms of its last sweep (requeue.lua), for the dashboard */
  monitorsSeen: string;
  /** set of paused functions (`*` = the swarm) */
  paused: string;
  /** hash 'f:<fn>' / 'g:<group>' -> its limit (JSON {concurrency?, rate?: {max, per}}) */
  limits: string;
  /** hash 'f:<fn>' / 'g:<group>' -> tasks RUNNING now */
  running: string;
  /** hash 'q:<fn>' -> tasks queued in its structure, 'd:<fn>' -> DELAYED tasks, 'seq' -> the routing sequence */
  counts: string;
  /** zset id -> due time (Redis ms): tasks that wait for a time, a delay or a retry's backoff (lib/delayed.lua) */
  delayed: string;
  /**
   * zset `<seq>:<id>` (the member of the task's place: `placeTaskId`) -> due time: the same
   * tasks (those this version delayed), in the order they were placed, which is the order they
   * are promoted in (lib/delayed.lua)
   */
  placedDelayed: string;
  /** hash dedupe key -> the id of the task that holds it (submit.lua) */
  dedupe: string;
  /**
   * schedules (src/schedule.ts): defs (hash name -> JSON definition), due (zset name -> next
   * tick, Redis ms), last (hash name -> JSON {last, lastId, skipped, lastSkipped, by}: what the
   * last firing did)
   */
  schedules: { defs: string; due: string; last: string };
  /**
   * zset token -> Redis ms: the administrative calls (retryDead, purgeDead, schedule, unschedule, pause, resume)
   * that did their work in the last ten minutes, so that one sent again after a reconnect
   * answers what it did (src/lua/lib/admin-calls.lua)
   */
  adminCalls: string;
  /** the swarm's partition count, checked by every component at start (src/effects/layout.ts): under the keyPrefix itself, whatever the partitions */
  layout: string;
  /**
   * a function's queue (lib/names.lua builds the same names in the scripts): 'groups' (zset group
   * -> its turn), 'blocked' (zset group -> when to try it again)
   */
  functionQueue(fn: string, what: 'groups' | 'blocked'): string;
  /** the zset of group `group`'s tasks of function `fn`: "<seq>:<id>" -> score (lib/queue.lua) */
  groupQueue(fn: string, group: string): string;
  /** a worker's claim receipts (claim.lua): what each claim took, by the claim's token */
  claimReceipts(worker: string): string;
  task(id: string): string;
  events(id: string): string;
  control(id: string): string;
  /** pattern matching every task's control channel */
  controlPattern: string;
}

/** `s` as a glob that matches only itself (for PSUBSCRIBE and ACL patterns) */
export function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** a name inside a key, its length in bytes first (lib/names.lua `part`): no name can spell another's key */
function lengthPrefixed(name: string): string {
  return `${Buffer.byteLength(name)}:${name}`;
}

/** The task id a place's member names: `<seq>:<id>` (seq 14 digits, lib/queue.lua placeOf). */
export function placeTaskId(member: string): string {
  return member.slice(member.indexOf(':') + 1);
}

export function buildKeys(c: Pick<RedisConfig, 'keyPrefix' | 'newQueue' | 'taskSet' | 'taskPrefix' | 'endQueue' | 'workerSet'>): Keys {
  const p = c.keyPrefix;
  const taskKeyPrefix = p + c.taskPrefix;
  /** the keys named `<prefix><base>:<suffix>`, given as property -> suffix */
  const under = <K extends string>(base: string, suffixes: Record<K, string>): Record<K, string> =>
    Object.fromEntries(Object.entries(suffixes).map(([key, suffix]) => [key, `${p}${base}:${suffix}`])) as Record<K, string>;
  const dead = under(`${c.newQueue}:dead`, { entries: 'entries', index: 'index', junk: 'junk', stats: 'stats' });
  return {
    taskKeyPrefix,
    newQueue: p + c.newQueue,
    taskSet: p + c.taskSet,
    endQueue: p + c.endQueue,
    workerSet: p + c.workerSet,
    ...under(c.taskSet, { leases: 'leases', ended: 'ended', recentEnded: 'ended:recent', grace: 'grace', outage: 'outage', epoch: 'epoch', monitorsSeen: 'monitors' }),
    ...under(c.workerSet, { workerSeen: 'seen', workerFunctions: 'functions', workerStates: 'states', workerOwners: 'owners', workerMaxPayload: 'max-payload' }),
    // (the scripts name delayed and dedupe from the queue's key: lib/names.lua delayedKey, dedupeKey)
    ...under(c.newQueue, { queued: 'queued', paused: 'paused', limits: 'limits', running: 'running', counts: 'counts', delayed: 'delayed', placedDelayed: 'delayed:placed', dedupe: 'keys', layout: 'partitions', adminCalls: 'admin-calls' }),
    dead,
    deadStore: [dead.entries, dead.index, dead.junk, dead.stats],
    schedules: under(c.newQueue, { defs: 'schedules', due: 'schedules:due', last: 'schedules:last' }),
    functionQueue: (fn, what) => `${p}${c.newQueue}:f:${lengthPrefixed(fn)}:${what}`,
    groupQueue: (fn, group) => `${p}${c.newQueue}:f:${lengthPrefixed(fn)}:g:${lengthPrefixed(group)}`,
    claimReceipts: (worker) => `${p}${c.workerSet}:claims:${worker}`,
    task: (id) => taskKeyPrefix + id,
    events: (id) => `${taskKeyPrefix}${id}-events`,
    control: (id) => `${taskKeyPrefix}${id}-control`,
    controlPattern: `${globEscape(taskKeyPrefix)}*-control`,
  };
}
