/**
 * A command's time with Redis: checked once up front (fail fast, with one clear line, when it
 * is not there), then a Client for the command, closed however the command ends.
 */
import { Cluster } from 'ioredis';
import { Client, type ClientOptions, type TaskInfo } from '../client.js';
import { resolveRedisConfig, type RedisConfig, type RedisOptions } from '../config.js';
import { TaskNotFoundError, TaskSwarmError } from '../errors.js';
import { notRedisProtocol, notSentinel, probeConnection, probeOnce, redisAddress, tlsHint, type Connection } from '../redis.js';
import { checkServerRole } from '../server-version.js';
import { within } from '../within.js';
import type { LoggerLike } from '../logger.js';
import { inspect } from 'node:util';
import { redact } from './connection.js';
import type { Invocation } from './command-spec.js';
import { RuntimeError } from './errors.js';
import { escapeControls, quote } from './format.js';
import { PROG } from './io.js';

/**
 * One ping, no reconnects: a Redis that is not there is one line naming it. `warn`: where a
 * Redis that may evict the swarm's keys is said (a worker or monitor says it in its own log).
 */
export async function checkRedis(redis: RedisOptions, warn?: (text: string) => void): Promise<void> {
  const config = resolveRedisConfig(redis);
  try {
    const checked = await probeOnce(config, CHECK_MS);
    if (checked.eviction) warn?.(checked.eviction);
  } catch (e) {
    if (e instanceof TaskSwarmError) throw e; // the server's version: its message names the server
    const foreign = notRedisProtocol(e instanceof Error ? e.message : '');
    if (foreign) throw new RuntimeError(`the server at ${redisWhere(config)} ${foreign}`);
    const sentinel = notSentinel(e instanceof Error ? e.message : '');
    if (sentinel) throw new RuntimeError(`Redis at ${redisWhere(config)}: ${sentinel}`);
    throw new RuntimeError(`${credentialsRefused(config, e) ?? `cannot reach Redis at ${redisWhere(config)}`}: ${probeFailure(config, e)}`);
  }
}

/**
 * A Redis that answered and refused the credentials was reached: "cannot reach" sent the user
 * looking at the network. Undefined for any other failure.
 */
function credentialsRefused(config: RedisConfig, e: unknown): string | undefined {
  const msg = e instanceof Error ? e.message : '';
  const where = redisWhere(config);
  if (/^WRONGPASS/.test(msg)) return `Redis at ${where} refused the password${config.username !== undefined ? ` of user ${quote(config.username)}` : ''}`;
  if (/^NOAUTH/.test(msg)) return `Redis at ${where} wants a password (give it with REDIS_PASSWORD or --redis-password-file)`;
  return undefined;
}

/** ms the check before a command (and each later look, `watchRedis`) waits for Redis's answer */
const CHECK_MS = 3000;

/** the server as the user named it (a URL without its password) */
export const redisWhere = (config: RedisConfig) => escapeControls(config.url !== undefined ? redact(config.url) : redisAddress(config));

/** why a probe failed, on one line */
function probeFailure(config: RedisConfig, e: unknown): string {
  if (e instanceof TaskSwarmError) return escapeControls(e.message);
  const err = e as Error;
  // (OpenSSL's messages end in a newline: the line printed would stop there)
  const msg = (err as NodeJS.ErrnoException).code === 'ETIMEDOUT' ? 'connection timed out' : String(err.message).trim().replace(/\s*\n\s*/g, ' ');
  const foreign = notRedisProtocol(msg);
  if (foreign) return `the server there ${foreign}`;
  return `${escapeControls(msg)}${tlsHint(config, msg)}`;
}

/**
 * While a command waits on Redis (`wait`, `submit --wait`, `events`), a look every few seconds
 * whether Redis answers, on a connection of its own: the client's calls wait for it silently
 * (their patience, then retries), and a wait that shows nothing while Redis is gone looks hung.
 * `say` gets one line when it stops answering (and why) and one when it answers again. Returns
 * the function that stops the watch.
 */
export function watchRedis(config: RedisConfig, say: (line: string) => void, everyMs = CHECK_MS): () => void {
  let stopped = false;
  let down = false;
  let timer: NodeJS.Timeout | undefined;
  // One connection while Redis answers, asked at each look (a new one each time was a connect,
  // a TLS handshake and the server check every few seconds for as long as the command waits).
  // A look not answered in time drops it (asks would pile up behind a frozen Redis); the next
  // look opens one again, with the checks a command's first look makes.
  let conn: Connection | undefined;
  const drop = () => {
    conn?.disconnect();
    conn = undefined;
  };
  const look = async () => {
    try {
      // A kept connection closed under the look (a server-side CLIENT KILL, an idle timeout, a
      // proxy) says nothing of Redis: a fresh connection is asked in the same look, and only its
      // failure is news. Not answering in time is (the fresh one would wait as long again).
      let answered = false;
      if (conn?.status === 'ready') {
        // (its role, not a PING: a Redis made a replica under the command keeps its clients and
        // answers them, while it refuses every write; the first look's checks refuse it, and so
        // must this. A Cluster follows its primaries itself)
        const kept = conn;
        const asked: Promise<string> = kept instanceof Cluster ? kept.ping() : kept.info('replication');
        const answer = await within(CHECK_MS, asked.catch((e: Error) => e));
        if (answer === undefined) throw new Error(`no answer within ${CHECK_MS / 1000} s`);
        if (!(answer instanceof Error)) {
          if (!(kept instanceof Cluster)) checkServerRole(answer, `Redis at ${redisAddress(config)}`);
          answered = true;
        }
      }
      if (!answered) {
        drop();
        const opened = (await probeConnection(config, CHECK_MS)).conn;
        if (stopped) opened.disconnect();
        else conn = opened;
      }
      if (!stopped && down) say(`Redis at ${redisWhere(config)} answers again`);
      down = false;
    } catch (e) {
      drop();
      if (!stopped && !down) say(`waiting for Redis at ${redisWhere(config)}: ${probeFailure(config, e)}`);
      down = true;
    }
    if (!stopped) timer = setTimeout(() => void look(), everyMs);
  };
  timer = setTimeout(() => void look(), everyMs);
  return () => {
    stopped = true;
    clearTimeout(timer);
    drop();
  };
}

export async function withClient<T>(inv: Pick<Invocation, 'redis' | 'warn'>, fn: (client: Client) => Promise<T>, options: Omit<ClientOptions, 'redis'> = {}): Promise<T> {
  const { redis } = inv;
  await checkRedis(redis, (text) => inv.warn(text));
  const client = new Client({ logger: warningLines(inv.warn), ...options, redis });
  try {
    return await fn(client);
  } finally {
    await within(1000, client.close());
  }
}

/**
 * The command's Client logs its warnings and errors as the command's own warning lines (one
 * each, on stderr): its default logger writes to stdout, where a command's output goes (the id
 * `submit` prints for a script to read). Debug and info say nothing; nor does a line `skip`
 * holds (one the command says otherwise, or that its own note contradicts).
 */
export function warningLines(warn: (text: string) => void, skip: (text: string) => boolean = () => false): LoggerLike {
  const line = (...args: unknown[]) => {
    const text = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : inspect(a, { breakLength: Infinity }))).join(' ');
    if (!skip(text)) warn(escapeControls(text));
  };
  return { debug() {}, info() {}, warn: line, error: line };
}

/** The run of a command that works with Redis from its start: `run` gets the command's Client (withClient). */
export function runWithClient(run: (client: Client, inv: Invocation) => Promise<number>): (inv: Invocation) => Promise<number> {
  return (inv) => withClient(inv, (client) => run(client, inv));
}

/** how many of the newest dead letters a task not found is looked for among */
const DEAD_LOOKED_AT = 1000;

/**
 * The dead letter that holds an entry of id `id`, said as a clause ("parked as dead letter <key>,
 * never queued (<why>)"), or undefined: an entry pushed by hand and parked never becomes a task,
 * and "never submitted" alone sent a user who had just pushed it (README) to look for a mistake
 * in the id. Only the newest letters are looked at; none when they cannot be read.
 */
export async function parkedEntry(client: Client, id: string): Promise<string | undefined> {
  const letters = await client.deadLetters({ limit: DEAD_LOOKED_AT }).catch(() => []);
  const letter = letters.find((l) => l.id === id);
  if (!letter) return undefined;
  return `an entry with that id was parked as dead letter ${letter.key}, never queued (${letter.reason}: ${escapeControls(letter.message.split('\n')[0]!)}); \`${PROG} dead\` lists it`;
}

/** The TaskNotFoundError for `id`, naming the dead letter that holds an entry of that id when there is one. */
export async function taskNotFound(client: Client, id: string): Promise<TaskNotFoundError> {
  const parked = await parkedEntry(client, id);
  return parked ? new TaskNotFoundError(id, `no task with id ${quote(id)}: ${parked}`) : new TaskNotFoundError(id);
}

export async function requireTask(client: Client, id: string): Promise<TaskInfo> {
  const t = await client.get(id);
  if (!t) throw await taskNotFound(client, id);
  return t;
}
