/**
 * A connection to one Redis selects its `db` at each connect (ioredis sends SELECT itself).
 * A db the server does not have (`databases` is 16 by default) is refused, and ioredis only
 * emits that as an 'error' and carries on in db 0: every task would land in, and be taken
 * from, another database than the one configured. The refusal is kept here, per connection,
 * for the start-up check (src/server-version.ts) and a client's calls to turn into an error,
 * and the connection is dropped at once: a reconnect that found a server with fewer databases
 * (restarted with another config, a replica promoted) would otherwise send what waited for
 * it, a worker's ENDs and claims and its re-assertion of its tasks, to db 0. ioredis sends
 * nothing of its own queues before its ready check, which waits for SELECT's answer; dropped,
 * the connection is tried again as after any loss (its retryStrategy), selecting again, so a
 * component waits as for a Redis that is down until the server has the db again.
 */
import type { Redis } from 'ioredis';
import { ConfigError } from './errors.js';

const refusals = new WeakMap<object, { db: number; error: Error }>();
/** who waits to hear of a refusal (a start-up check racing its INFO against it) */
const waiting = new WeakMap<object, Set<() => void>>();
/** who is told of the first refusal after a SELECT went through (a running worker's log) */
const listeners = new WeakMap<object, (() => void)[]>();

/**
 * `listener` gets the refusal (a ConfigError naming `where`) when `redis`'s SELECT is refused
 * after it was not: once per spell of refusals.
 */
export function onRefused(redis: object, where: string, listener: (refusal: ConfigError) => void): void {
  const tell = () => {
    const r = selectRefusal(redis, where);
    if (r) listener(r);
  };
  listeners.set(redis, [...(listeners.get(redis) ?? []), tell]);
}

/** `redis`, its SELECTs watched: a refused one is kept until one succeeds (a reconnect) */
export function watchSelect(redis: Redis): Redis {
  const select = redis.select.bind(redis) as (db: number | string) => Promise<'OK'>;
  (redis as unknown as { select: (db: number | string) => Promise<'OK'> }).select = (db) => {
    const p = select(db);
    p.then(
      () => refusals.delete(redis),
      // (Redis's own refusal only: a SELECT that timed out, or failed with its connection, says
      // nothing of the database, and the reconnect sends it again)
      (error: Error) => {
        if (error?.name !== 'ReplyError') return;
        const first = !refusals.has(redis);
        refusals.set(redis, { db: Number(db), error });
        redis.disconnect(true);
        // (what waited for the connection would wait through every try: it fails now, unsent)
        const o = redis.options;
        const internals = redis as unknown as { flushQueue?: (e: Error, o: { offlineQueue: boolean; commandQueue: boolean }) => void };
        internals.flushQueue?.(selectRefusal(redis, `Redis at ${o.host ?? ''}:${o.port ?? ''}`)!, { offlineQueue: true, commandQueue: false });
        for (const tell of waiting.get(redis) ?? []) tell();
        if (first) for (const listener of listeners.get(redis) ?? []) listener();
      },
    );
    return p;
  };
  return redis;
}

/** A ConfigError naming the db and Redis's answer, if `redis` is on db 0 because SELECT was refused (a Cluster never is: it has db 0 alone). */
export function selectRefusal(redis: object, where: string): ConfigError | undefined {
  const r = refusals.get(redis);
  if (!r) return undefined;
  // (the option is not named: the CLI has none for it, the db is the path of its url)
  return new ConfigError(`${where}: database ${r.db} cannot be used: SELECT ${r.db} was refused (${r.error.message}); the server has fewer databases (its \`databases\` setting)`, { cause: r.error });
}

/**
 * `call` on `redis`, unless a refused SELECT comes first (or came before): then the refusal's
 * ConfigError. A start-up check's first command waits in ioredis's queue while the connection
 * is dropped and tried again for its refused SELECT: it would wait for as long as the server
 * lacks the db.
 */
export function unlessRefused<T>(redis: object, where: string, call: () => Promise<T>): Promise<T> {
  const before = selectRefusal(redis, where);
  if (before) return Promise.reject(before);
  return new Promise<T>((resolve, reject) => {
    let set = waiting.get(redis);
    if (!set) waiting.set(redis, (set = new Set()));
    const tell = () => {
      set.delete(tell);
      reject(selectRefusal(redis, where));
    };
    set.add(tell);
    call().then(
      (v) => {
        set.delete(tell);
        resolve(v);
      },
      (e: unknown) => {
        set.delete(tell);
        reject(selectRefusal(redis, where) ?? e);
      },
    );
  });
}
