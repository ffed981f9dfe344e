/**
 * A connection to one Redis selects its `db` at each connect (ioredis sends SELECT itself).
 * A db the server does not have (`databases` is 16 by default) is refused, and ioredis only
 * emits that as an 'error' and carries on in db 0: every task would land in, and be taken
 * from, another database than the one configured. The refusal is kept here, per connection,
 * for the start-up check (src/server-version.ts) and a client's calls to turn into an error.
 */
import type { Redis } from 'ioredis';
import { ConfigError } from './errors.js';

const refusals = new WeakMap<object, { db: number; error: Error }>();

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
        if (error?.name === 'ReplyError') refusals.set(redis, { db: Number(db), error });
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
