/**
 * Where Redis is and how the swarm's keys are named, from the options of every command and the
 * environment: --redis-url (or REDIS_URL: redis://, rediss://, redis+sentinel://,
 * redis+cluster://), --redis-sentinels with --redis-name, --redis-cluster; the passwords given
 * apart from it (src/cli/secrets.ts), TLS files, --redis-durable; the swarm's key names and
 * partitions (flags generated from the schema, as the Worker's and Monitor's are). The library
 * checks the result (resolveRedisConfig); what it refuses names the flags (asFlags).
 */
import { Option } from 'commander';
import { REDIS_FIELDS, type RedisOptions } from '../config.js';
import { CLUSTER_PROTOCOL, parseSentinelList, SENTINEL_PROTOCOL } from '../redis-forms.js';
import { UsageError } from './errors.js';
import { quote } from './format.js';
import { fieldOptions, fieldValues, integerOption, parsedOption } from './options.js';
import { REDIS_PASSWORD, secretOf, secretOptions, SENTINEL_PASSWORD } from './secrets.js';
import { parseDurable } from './values.js';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const CONNECTION = 'Redis connection (every command):';
const LAYOUT = "The swarm's keys (every command):";

/** where the swarm's keys are: their names, and the partitions it is spread over (flags generated from the schema) */
const LAYOUT_KEYS = ['keyPrefix', 'newQueue', 'taskSet', 'taskPrefix', 'endQueue', 'workerSet', 'partitions'] as const;
const LAYOUT_FIELDS = Object.fromEntries(LAYOUT_KEYS.map((key) => [key, REDIS_FIELDS[key]]));

/** The options of every command (the program's own, given before or after the command). */
export function connectionOptions(): Option[] {
  const connection = [
    new Option('--redis-url <url>', 'Redis to use; keep the password out of it').env('REDIS_URL').default(DEFAULT_REDIS_URL),
    ...secretOptions(REDIS_PASSWORD, " (overrides the URL's)"),
    new Option('--redis-tls-ca <path>', 'with a rediss:// URL: PEM file of the CA that signed the server certificate (default: the system CAs)'),
    new Option('--redis-tls-cert <path>', 'with a rediss:// URL: PEM file of the client certificate (with --redis-tls-key)'),
    new Option('--redis-tls-key <path>', "with a rediss:// URL: PEM file of the client certificate's key"),
    new Option('--redis-tls-servername <name>', 'with a rediss:// URL: the name the server certificate must carry'),
    new Option('--redis-sentinels <h:p,h:p>', 'Redis Sentinel: ask these for the primary named --redis-name (instead of a URL; or REDIS_URL=redis+sentinel://h:p,h:p/name)'),
    new Option('--redis-name <name>', 'with --redis-sentinels: the name of the primary the sentinels monitor, e.g. mymaster'),
    ...secretOptions(SENTINEL_PASSWORD),
    new Option('--redis-cluster <h:p,h:p>', 'Redis Cluster: learn the cluster from these nodes (instead of a URL; or REDIS_URL=redis+cluster://h:p,h:p)'),
    parsedOption('--redis-durable <n>', 'replicas that must acknowledge each submit and END (WAIT; true = 1); default 0', parseDurable),
    integerOption('--redis-durable-timeout <ms>', 'with --redis-durable: ms to wait for them (default 1000)'),
  ];
  return [...connection.map((o) => o.helpGroup(CONNECTION)), ...fieldOptions(LAYOUT_FIELDS).map((o) => o.helpGroup(LAYOUT))];
}

/** the values of the connection options above (commander's attribute names) */
export interface ConnectionValues {
  redisUrl?: string;
  redisTlsCa?: string;
  redisTlsCert?: string;
  redisTlsKey?: string;
  redisTlsServername?: string;
  redisSentinels?: string;
  redisName?: string;
  redisCluster?: string;
  redisDurable?: number;
  redisDurableTimeout?: number;
}

/** a url with its credentials masked: the userinfo, and a ?password= (ioredis takes it as the password) */
export const redact = (url: string) => url.replace(/\/\/[^@/]*@/, '//***@').replace(/([?&]password=)[^&#]*/gi, '$1***');

/** Whether a URL typed on the command line carries a password (userinfo or ?password=). */
const hasPassword = (url: URL) => url.password !== '' || url.searchParams.has('password');

const URL_PASSWORD_WARNING = 'the password in --redis-url is visible to other users in ps; use --redis-password-file <path> or env REDIS_PASSWORD instead';

/**
 * The `redis` options of a Client, Worker or Monitor: --redis-cluster, else --redis-sentinels
 * (with --redis-name), else the URL (typed, else REDIS_URL, else the default); then the
 * secrets, TLS files, durability and key names. `source` says where a value came from ('cli'
 * when typed); `warn` is told of secrets typed where `ps` shows them.
 */
export function redisOptions(values: ConnectionValues & Record<string, unknown>, source: (key: string) => string | undefined, warn: (text: string) => void): RedisOptions {
  const typedUrl = source('redisUrl') === 'cli' ? values.redisUrl : undefined;
  const { redisSentinels: sentinels, redisCluster: cluster, redisName: name } = values;
  const password = () => secretOf(REDIS_PASSWORD, values, source, warn)?.value;
  let redis: { -readonly [K in keyof RedisOptions]: RedisOptions[K] };
  if (cluster !== undefined) {
    if (typedUrl !== undefined) throw new UsageError('--redis-cluster and --redis-url both say where Redis is: give one');
    if (sentinels !== undefined) throw new UsageError('--redis-cluster and --redis-sentinels both say where Redis is: give one');
    redis = { cluster: parseSentinelList(cluster, '--redis-cluster') };
    const p = password();
    if (p !== undefined) redis.password = p;
  } else if (sentinels !== undefined) {
    if (typedUrl !== undefined) throw new UsageError('--redis-sentinels and --redis-url both say where Redis is: give one');
    if (name === undefined) throw new UsageError('--redis-sentinels needs --redis-name <name>: the primary the sentinels monitor (e.g. mymaster)');
    redis = { sentinels: parseSentinelList(sentinels, '--redis-sentinels'), name };
    const p = password();
    if (p !== undefined) redis.password = p;
  } else {
    // (spaces around it are no part of it: a `.env` line `REDIS_URL= redis://...` once gave a
    // url "must start with redis://", which it did, spaces aside; spaces after it were dropped)
    const redisUrl = (values.redisUrl ?? DEFAULT_REDIS_URL).trim();
    if ([SENTINEL_PROTOCOL, CLUSTER_PROTOCOL].some((p) => redisUrl.toLowerCase().startsWith(`${p}//`))) {
      if (typedUrl !== undefined && /\/\/[^@/]*:[^@/]*@/.test(redisUrl)) warn(URL_PASSWORD_WARNING);
      // the library reads a sentinel or cluster url (src/redis-forms.ts); a password given apart wins
      redis = { url: redisUrl };
      const p = password();
      if (p !== undefined) {
        const m = /^([^:]+:\/\/)(?:[^@/]*@)?(.*)$/s.exec(redisUrl)!;
        const user = /^[^:]+:\/\/([^:@/]*)(?::[^@/]*)?@/.exec(redisUrl)?.[1];
        redis = { url: m[1]! + (user ? `${user}@` : '') + m[2]!, password: p };
      }
    } else {
      let u: URL;
      try {
        u = new URL(redisUrl);
      } catch {
        throw new UsageError(`Redis URL must look like redis://[user:password@]host:port[/db], got ${quote(redact(redisUrl))}`);
      }
      if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
        throw new UsageError(`Redis URL must start with redis://, rediss://, ${SENTINEL_PROTOCOL}// or ${CLUSTER_PROTOCOL}//, got ${quote(redact(redisUrl))}`);
      }
      if (typedUrl !== undefined && hasPassword(u)) warn(URL_PASSWORD_WARNING);
      redis = apart(redisUrl, u, password());
    }
  }
  if (name !== undefined && sentinels === undefined) throw new UsageError('--redis-name only goes with --redis-sentinels');
  // (REDIS_SENTINEL_PASSWORD, like any variable of the environment, counts only where it applies:
  // a shell that sets it for a Sentinel deployment may still run a command against one Redis)
  const viaSentinels = redis.sentinels !== undefined || (redis.url ?? '').toLowerCase().startsWith(`${SENTINEL_PROTOCOL}//`);
  const sentinelPassword = secretOf(SENTINEL_PASSWORD, values, source, warn);
  if (sentinelPassword !== undefined && !sentinelPassword.fromEnv) {
    if (!viaSentinels) throw new UsageError(`${sentinelPassword.from} only goes with --redis-sentinels (or a ${SENTINEL_PROTOCOL}// url)`);
    redis.sentinelPassword = sentinelPassword.value;
  } else if (sentinelPassword !== undefined && viaSentinels) redis.sentinelPassword = sentinelPassword.value;
  const tls: Record<string, string> = {};
  for (const [k, v] of [
    ['ca', values.redisTlsCa],
    ['cert', values.redisTlsCert],
    ['key', values.redisTlsKey],
    ['servername', values.redisTlsServername],
  ] as const) {
    if (v !== undefined) tls[k] = v;
  }
  if (Object.keys(tls).length > 0) redis.tls = tls;
  if (values.redisDurable !== undefined) redis.durable = values.redisDurable;
  if (values.redisDurableTimeout !== undefined) redis.durableTimeout = values.redisDurableTimeout;
  return { ...redis, ...fieldValues(LAYOUT_FIELDS, values) };
}

/**
 * A password given apart from a redis:// url. ioredis lets a URL's credentials win over its
 * options, so the credentials come out of the URL and both go as options (the URL's user kept).
 */
function apart(raw: string, url: URL, password: string | undefined): { url: string; username?: string; password?: string } {
  if (password === undefined) return { url: raw };
  const bare = new URL(url.href);
  const username = decodeURIComponent(bare.username) || undefined;
  bare.username = '';
  bare.password = '';
  bare.searchParams.delete('password');
  return { url: bare.href, username, password };
}
