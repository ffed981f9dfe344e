/**
 * Client: submit tasks, read them, follow their events, control them, wait for their end, and
 * read or retry the dead-letter list.
 */
import type { Redis } from 'ioredis';
import { nanoid } from 'nanoid';
import { resolveRedisConfig, type RedisConfig, type RedisOptions } from './config.js';
import { ConfigError, DuplicateTaskError, InvalidTaskError, TimeoutError } from './errors.js';
import { buildKeys, type Keys } from './keys.js';
import { createLogger, type LoggerLike } from './logger.js';
import { connect } from './redis.js';
import { formatControl, parseEntry, parseEvent, taskData, type ControlInput, type StoredError, type TaskEvent } from './wire.js';
import { readDeadLetters, retryDead, submit, type DeadLetter } from './effects/queue.js';

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
}

export interface SubmitOptions {
  /** your own id; default a random one. A used id is refused with DuplicateTaskError. */
  id?: string;
  /** keep the task's hash after it ends, listed in `end-task`, for manual cleanup */
  manualEnd?: boolean;
}

export interface ClientOptions {
  redis?: RedisOptions;
  /** where the client reports a `subscribe` handler that threw (once per handler); default: tslog, as the Worker */
  logger?: LoggerLike;
}

const CLIENT_OPTIONS = ['redis', 'logger'];

export class Client {
  readonly config: RedisConfig;
  private readonly keys: Keys;
  private readonly redis: Redis;
  private sub?: Redis;
  private readonly handlers = new Map<string, Set<(ev: TaskEvent) => void>>();
  private readonly log: LoggerLike;
  /** handlers already reported as throwing: a handler that throws on every event is logged once */
  private readonly reported = new WeakSet<(ev: TaskEvent) => void>();

  constructor(options: ClientOptions = {}) {
    if (options === null || typeof options !== 'object') throw new ConfigError('Client options must be an object');
    for (const k of Object.keys(options)) {
      if (!CLIENT_OPTIONS.includes(k)) throw new ConfigError(`Client: unknown option "${k}" (known: ${CLIENT_OPTIONS.join(', ')})`);
    }
    const logger = options.logger;
    if (logger !== undefined && (logger === null || typeof logger !== 'object' || typeof logger.warn !== 'function')) {
      throw new ConfigError('Client.logger must be an object with debug/info/warn/error methods');
    }
    this.log = createLogger('client', logger);
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
    return info;
  }

  /**
   * Follow one task's events; returns the unsubscribe function. Every message on the channel
   * reaches `onEvent` as a well-formed `{event, data, at}` (see `parseEvent`: junk arrives as
   * `event: 'raw'` with its text). A handler that throws is logged (once) and does not keep
   * the others from the event.
   */
  subscribe(id: string, onEvent: (ev: TaskEvent) => void): () => void {
    checkId('subscribe', id);
    if (typeof onEvent !== 'function') throw new InvalidTaskError('subscribe: the handler must be a function');
    const channel = this.keys.events(id);
    const sub = this.subscriber();
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      sub.subscribe(channel).catch(() => {});
    }
    // Wrapped, so that one function subscribed twice is two subscriptions, each removed once.
    const handler = (ev: TaskEvent) => onEvent(ev);
    set.add(handler);
    return () => {
      const s = this.handlers.get(channel);
      if (!s || !s.delete(handler)) return;
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

  /** Entries parked in the dead-letter list, newest first. */
  deadLetters(options: { limit?: number } = {}): Promise<DeadLetter[]> {
    return readDeadLetters(this.redis, this.keys, 0, (options.limit ?? 100) - 1);
  }

  /** Put a dead-letter entry's task back on the queue; false when it was already taken. */
  retryDead(letter: Pick<DeadLetter, 'entry' | 'raw'>): Promise<boolean> {
    return retryDead(this.redis, this.keys, letter);
  }

  /** Counts for a status line: queued entries, claimed tasks, workers, dead letters. */
  async stats(): Promise<{ queued: number; tasks: number; workers: number; dead: number; ended: number }> {
    const r = (await this.redis
      .multi()
      .llen(this.keys.newQueue)
      .scard(this.keys.taskSet)
      .scard(this.keys.workerSet)
      .llen(this.keys.deadLetter)
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
      // No retry limit: a SUBSCRIBE made while Redis is down waits for it, rather than fail
      // after two reconnects and leave the channel unsubscribed for good (ioredis resubscribes
      // only what had been subscribed).
      this.sub = connect(this.config, 'subscriber', 'client', { lazyConnect: false, maxRetriesPerRequest: null });
      this.sub.on('error', () => {});
      // This runs inside ioredis's reply parser: a throw here would be uncaught and end the
      // process, so the parse is total and every handler is fenced.
      this.sub.on('message', (channel: string, message: string) => {
        const set = this.handlers.get(channel);
        if (!set) return;
        const ev = parseEvent(message);
        for (const h of [...set]) {
          try {
            h(ev);
          } catch (e) {
            if (this.reported.has(h)) continue;
            this.reported.add(h);
            this.log.warn(`a subscriber of ${channel} threw on a "${ev.event}" event (the other subscribers still got it; reported once)`, e);
          }
        }
      });
    }
    return this.sub;
  }
}

function checkId(method: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id === '') throw new InvalidTaskError(`${method}: the task id must be a non-empty string, got ${JSON.stringify(id) ?? String(id)}`);
}
