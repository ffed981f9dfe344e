/**
 * Client: submit tasks, read them, follow their events, control them, wait for their end, and
 * read or retry the dead-letter list.
 */
import type { Redis } from 'ioredis';
import { nanoid } from 'nanoid';
import { resolveRedisConfig, type RedisConfig, type RedisOptions } from './config.js';
import { ConfigError, DuplicateTaskError, InvalidTaskError, TimeoutError } from './errors.js';
import { buildKeys, type Keys } from './keys.js';
import { connect } from './redis.js';
import { formatControl, MAX_ID_BYTES, parseEntry, taskData, type ControlInput, type StoredError, type TaskEvent } from './wire.js';
import { submit } from './effects/queue.js';
import { purgeDead, readDeadLetter, readDeadLetters, retryDead, type DeadLetter } from './effects/dead-letters.js';
import type { DeadLetterReason } from './errors.js';

export type TaskState = 'QUEUED' | 'RUNNING' | 'END';
export type TaskOutcomeName = 'succeeded' | 'failed' | 'stopped';

export interface TaskInfo {
  id: string;
  state: TaskState;
  function?: string;
  /** `host:port` of the worker running (or that ran) it */
  worker?: string;
  /** ms since epoch (Redis time) it was claimed */
  start?: number;
  /** ms since epoch (Redis time) of its last heartbeat or change */
  update?: number;
  /** ms since epoch (Redis time) it ended */
  end?: number;
  attempt: number;
  outcome?: TaskOutcomeName;
  result?: unknown;
  error?: StoredError;
  /** the task's data, parsed when it was a JSON string */
  data?: unknown;
  /** the task entry as it was queued */
  raw?: string;
  manualEnd: boolean;
  /** earlier claims that ended with the worker's death */
  history?: { worker: string; attempt: number; at: number; reason: string }[];
  /**
   * set when the task was parked in the dead-letter store instead of run (state END, outcome
   * failed): why, and the dead letter's key (Client.retryDead / purgeDead take it)
   */
  parked?: { reason: DeadLetterReason; key: string };
}

export interface SubmitOptions {
  /** your own id; default a random one. A used id is refused with DuplicateTaskError. */
  id?: string;
  /** keep the task's hash after it ends, listed in `end-task`, for manual cleanup */
  manualEnd?: boolean;
}

export interface ClientOptions {
  redis?: RedisOptions;
}

export class Client {
  readonly config: RedisConfig;
  private readonly keys: Keys;
  private readonly redis: Redis;
  private sub?: Redis;
  private readonly handlers = new Map<string, Set<(ev: TaskEvent) => void>>();

  constructor(options: ClientOptions = {}) {
    if (options === null || typeof options !== 'object') throw new ConfigError('Client options must be an object');
    for (const k of Object.keys(options)) if (k !== 'redis') throw new ConfigError(`Client: unknown option "${k}" (known: redis)`);
    this.config = resolveRedisConfig(options.redis);
    this.keys = buildKeys(this.config);
    // A client is patient with a Redis restart: a command waits for up to ~20 reconnects.
    this.redis = connect(this.config, 'command', 'client', { lazyConnect: false, maxRetriesPerRequest: 20 });
    this.redis.on('error', () => {});
  }

  /** Queue a task for `fn`; resolves with its id once it is in Redis. */
  async submit(fn: string, data?: unknown, options: SubmitOptions = {}): Promise<string> {
    if (typeof fn !== 'string' || fn === '') throw new InvalidTaskError('submit: function name must be a non-empty string');
    const id = options.id ?? nanoid();
    if (typeof id !== 'string' || id === '') throw new InvalidTaskError('submit: id must be a non-empty string');
    if (Buffer.byteLength(id) > MAX_ID_BYTES) throw new InvalidTaskError(`submit: id is ${Buffer.byteLength(id)} bytes long, over ${MAX_ID_BYTES}`);
    const entry: Record<string, unknown> = { id, function: fn, data: data === undefined ? null : data };
    if (options.manualEnd) entry.manual_end = true;
    let raw: string;
    try {
      raw = JSON.stringify(entry);
    } catch (e) {
      throw new InvalidTaskError(`submit: data of task "${id}" is not JSON-serialisable: ${(e as Error).message}`);
    }
    if (!(await submit(this.redis, this.keys, id, raw))) throw new DuplicateTaskError(id);
    return id;
  }

  /** The task as Redis has it now, or null when unknown (never submitted, or expired). */
  async get(id: string): Promise<TaskInfo | null> {
    const [[, h], [, queued]] = (await this.redis.multi().hgetall(this.keys.task(id)).sismember(this.keys.queued, id).exec()) as [
      [null, Record<string, string>],
      [null, number],
    ];
    if (!h || Object.keys(h).length === 0) return queued ? { id, state: 'QUEUED', attempt: 0, manualEnd: false } : null;
    const num = (v?: string) => (v === undefined ? undefined : Number(v));
    const json = (v?: string) => {
      if (v === undefined) return undefined;
      try {
        return JSON.parse(v);
      } catch {
        return v;
      }
    };
    let data: unknown;
    if (h.data !== undefined) {
      try {
        data = taskData(parseEntry(h.data));
      } catch {
        data = undefined;
      }
    }
    const info: TaskInfo = {
      id,
      state: (h.state as TaskState) ?? 'QUEUED',
      function: h.function,
      worker: h.worker,
      start: num(h.start),
      update: num(h.update),
      end: num(h.end),
      attempt: Number(h.attempt ?? 0),
      data,
      raw: h.data,
      manualEnd: h.manual_end === '1',
    };
    if (h.outcome) info.outcome = h.outcome as TaskOutcomeName;
    if (h.result !== undefined) info.result = json(h.result);
    if (h.error !== undefined) info.error = json(h.error) as StoredError;
    if (h.history !== undefined) info.history = json(h.history);
    if (h.parked !== undefined) info.parked = { reason: h.parked as DeadLetterReason, key: h.dead ?? '' };
    return info;
  }

  /** Follow one task's events (JSON `{event, data, at}`); returns the unsubscribe function. */
  subscribe(id: string, onEvent: (ev: TaskEvent) => void): () => void {
    const channel = this.keys.events(id);
    const sub = this.subscriber();
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      sub.subscribe(channel).catch(() => {});
    }
    set.add(onEvent);
    return () => {
      const s = this.handlers.get(channel);
      if (!s) return;
      s.delete(onEvent);
      if (s.size === 0) {
        this.handlers.delete(channel);
        sub.unsubscribe(channel).catch(() => {});
      }
    };
  }

  /** Send `stop`, `reload` or a custom event `{event_name, event}` to a running task. */
  async control(id: string, message: ControlInput): Promise<void> {
    await this.redis.publish(this.keys.control(id), formatControl(message));
  }

  /** Resolve with the task once it has ended; rejects with TimeoutError after `timeout` ms. */
  async wait(id: string, options: { timeout?: number } = {}): Promise<TaskInfo> {
    const timeout = options.timeout ?? 0;
    const channel = this.keys.events(id);
    let off = () => {};
    let timer: NodeJS.Timeout | undefined;
    try {
      return await new Promise<TaskInfo>((resolve, reject) => {
        let settled = false;
        const done = (t: TaskInfo) => {
          if (!settled) {
            settled = true;
            resolve(t);
          }
        };
        off = this.subscribe(id, (ev) => {
          if (ev.event !== 'end') return;
          // Prefer the hash (it has every field); fall back to the event when retention is 0.
          const d = ev.data as { outcome: TaskOutcomeName; result?: unknown; error?: StoredError };
          this.get(id).then(
            (t) => done(t && t.state === 'END' ? t : { id, state: 'END', attempt: t?.attempt ?? 0, manualEnd: false, ...d }),
            () => done({ id, state: 'END', attempt: 0, manualEnd: false, ...d }),
          );
        });
        if (timeout > 0) timer = setTimeout(() => reject(new TimeoutError(`task "${id}" did not end within ${timeout} ms`)), timeout);
        // Subscribed first, then read: an end between the two is seen by one or the other.
        this.subscriber()
          .subscribe(channel)
          .then(() => this.get(id))
          .then((t) => {
            if (t?.state === 'END') done(t);
          })
          .catch(reject);
      });
    } finally {
      off();
      clearTimeout(timer);
    }
  }

  /** Dead letters, newest first: `offset` skipped, at most `limit` (default 100). */
  async deadLetters(options: { limit?: number; offset?: number } = {}): Promise<DeadLetter[]> {
    return (await readDeadLetters(this.redis, this.keys, options.offset ?? 0, options.limit ?? 100)).letters;
  }

  /** One dead letter by its key, or null (retried, purged or dropped). */
  deadLetter(key: string): Promise<DeadLetter | null> {
    return readDeadLetter(this.redis, this.keys, key);
  }

  /**
   * Put a dead letter's task back on the queue (a parked task's hash is reset to QUEUED, its
   * attempts to 0); false when no entry has that key any more. Exactly once, whoever calls.
   */
  retryDead(letter: Pick<DeadLetter, 'key'> | string): Promise<boolean> {
    return retryDead(this.redis, this.keys, typeof letter === 'string' ? letter : letter.key);
  }

  /** Delete a dead letter, and a parked task's hash with it; false when no entry has that key. */
  purgeDead(letter: Pick<DeadLetter, 'key'> | string): Promise<boolean> {
    return purgeDead(this.redis, this.keys, typeof letter === 'string' ? letter : letter.key);
  }

  /** Counts for a status line: queued entries, claimed tasks, workers, dead letters. */
  async stats(): Promise<{ queued: number; tasks: number; workers: number; dead: number; ended: number }> {
    const r = (await this.redis
      .multi()
      .llen(this.keys.newQueue)
      .scard(this.keys.taskSet)
      .scard(this.keys.workerSet)
      .zcard(this.keys.dead.index)
      .scard(this.keys.endQueue)
      .exec()) as [null, number][];
    return { queued: r[0]![1], tasks: r[1]![1], workers: r[2]![1], dead: r[3]![1], ended: r[4]![1] };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.redis.quit(), this.sub?.quit()]);
    this.redis.disconnect();
    this.sub?.disconnect();
  }

  private subscriber(): Redis {
    if (!this.sub) {
      this.sub = connect(this.config, 'subscriber', 'client', { lazyConnect: false });
      this.sub.on('error', () => {});
      this.sub.on('message', (channel: string, message: string) => {
        const set = this.handlers.get(channel);
        if (!set) return;
        let ev: TaskEvent;
        try {
          ev = JSON.parse(message) as TaskEvent;
        } catch {
          ev = { event: 'raw', data: message, at: Date.now() };
        }
        for (const h of set) h(ev);
      });
    }
    return this.sub;
  }
}
