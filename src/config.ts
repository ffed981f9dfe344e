/**
 * One schema for every option: its default, its bounds and its documentation. `resolve*Config`
 * validates user input against it and fills defaults; `configTable()` renders the README's
 * table from it (a test checks the README matches).
 */
import { checkLogger } from './logger.js';
import { hostProblem, parseAddress } from './address.js';
import { ConfigError } from './errors.js';
import { quote } from './quote.js';
import type { LoggerLike } from './logger.js';
import { hashTag, resolveConnectionForm, type SentinelAddress, type TlsConfig } from './redis-forms.js';

const MAX_INT = 2 ** 31 - 1;
/** more partitions than a worker can heartbeat one by one each interval gain nothing */
const MAX_PARTITIONS = 256;

/** `tls` and `nodes` are checked by src/redis-forms.ts, which knows their shape */
type Kind = 'int' | 'string' | 'percent' | 'port' | 'enum' | 'tls' | 'nodes';
interface Field {
  kind: Kind;
  default?: number | string;
  min?: number;
  /** the values an `enum` may take */
  values?: readonly string[];
  doc: string;
}

export const REDIS_FIELDS = {
  host: { kind: 'string', default: '127.0.0.1', doc: 'Redis host' },
  port: { kind: 'port', default: 6379, doc: 'Redis port' },
  url: {
    kind: 'string',
    doc: 'Redis URL: `redis://user:pass@host:port/db`, `rediss://...` (TLS), `redis+sentinel://user:pass@host:port,host:port/name/db` (Sentinel) or `redis+cluster://user:pass@host:port,host:port` (Cluster); instead of host/port (both: ConfigError). A redis:// query may set `db`, `password`, `username` and `family` only, each once (other options go in this config)',
  },
  username: { kind: 'string', doc: 'Redis ACL user' },
  password: { kind: 'string', doc: 'Redis password' },
  tls: {
    kind: 'tls',
    doc: 'TLS: `{ ca, cert, key, servername, rejectUnauthorized }`; `ca`, `cert` and `key` are PEM text (or a Buffer of it) or the path of a PEM file (read once, at start); with `url` it must be `rediss://`, and `rediss://` alone is TLS with the system CAs',
  },
  sentinels: { kind: 'nodes', doc: 'Redis Sentinel: `[{ host, port }, ...]`, asked for the current primary of `name` (instead of host/port/url)' },
  name: { kind: 'string', doc: 'with `sentinels`: the name of the primary the sentinels monitor' },
  sentinelUsername: { kind: 'string', doc: 'with `sentinels`: the ACL user of the sentinels' },
  sentinelPassword: { kind: 'string', doc: 'with `sentinels`: the password of the sentinels (`password` is the data nodes\')' },
  cluster: {
    kind: 'nodes',
    doc: 'Redis Cluster: `[{ host, port }, ...]`, nodes to learn the cluster from (instead of host/port/url); `keyPrefix` must then hold a hash tag, default `{task-swarm}:`',
  },
  role: { kind: 'enum', values: ['master'], default: 'master', doc: 'with `sentinels`: the node to use; only `master`, since every component writes' },
  db: { kind: 'int', default: 0, min: 0, doc: 'Redis database number' },
  durable: {
    kind: 'int',
    default: 0,
    min: 0,
    doc: 'replicas that must acknowledge each submit and each END (WAIT) before it counts; `true` is 1; 0: none (a failover can lose the latest writes: docs/failure-model.md)',
  },
  durableTimeout: { kind: 'int', default: 1000, min: 1, doc: 'ms to wait for those acknowledgements; fewer by then: submit rejects with NotDurableError, an END is logged' },
  partitions: {
    kind: 'int',
    default: 1,
    min: 1,
    doc: 'slots one swarm is spread over (Redis Cluster): each partition is a whole layout under its own hash tag, on whichever primary serves it; every component must use the same number (docs/deployments.md)',
  },
  keyPrefix: { kind: 'string', default: '', doc: 'prepended to every key and channel; with `cluster`, a hash tag such as `{swarm}:` puts the swarm in one slot (default there `{task-swarm}:`)' },
  newQueue: { kind: 'string', default: 'new-task', doc: 'list of new tasks (producers LPUSH)' },
  taskSet: { kind: 'string', default: 'tasks', doc: 'set of claimed task ids' },
  taskPrefix: { kind: 'string', default: 'task-', doc: 'prefix of task hashes and channels' },
  endQueue: { kind: 'string', default: 'end-task', doc: 'set of ended `manual_end` tasks' },
  workerSet: { kind: 'string', default: 'workers', doc: 'set of worker `host:port`' },
} as const satisfies Record<string, Field>;

const COMMON_FIELDS = {
  fetchWorkerInterval: { kind: 'int', default: 15000, min: 1, doc: 'ms between refreshes of the in-memory worker list (a worker that knows no peer lists them again at once when its heartbeat finds others registered)' },
  partitionPercentage: { kind: 'percent', default: 60, doc: 'min % of other workers to reach by ping, when Redis is lost, to stay active' },
  pingTimeout: { kind: 'int', default: 500, min: 1, doc: 'ms to wait for a peer to answer a ping' },
  metricsPort: {
    kind: 'port',
    doc: 'serve Prometheus metrics on `http://metricsHost:metricsPort/metrics` (0 = any free port); none by default (`metrics()` still gives them): docs/metrics.md',
  },
  metricsHost: { kind: 'string', default: '127.0.0.1', doc: 'address the metrics server listens on (`0.0.0.0` or `::` = every interface)' },
} as const satisfies Record<string, Field>;

/**
 * The largest task entry (its JSON, bytes) by default: a worker parks a larger one `too_large`
 * when it claims it, and a Client refuses one at submit (the same default on both sides).
 */
const MAX_PAYLOAD_BYTES = 1048576;

export const WORKER_FIELDS = {
  host: {
    kind: 'string',
    doc: 'address the peer ping server listens on; default: this host\'s address on the interface that reaches Redis, so peers on other hosts can ping it (`0.0.0.0` or `::` = every interface, advertising that address)',
  },
  port: { kind: 'port', default: 6000, doc: 'port the peer ping server listens on (0 = any free port)' },
  advertise: { kind: 'string', doc: '`host:port` (IPv6: `[addr]:port`) other nodes use to reach this worker, when it differs (NAT, proxies)' },
  fetchTaskInterval: { kind: 'int', default: 2000, min: 1, doc: 'ms of the fallback poll; an idle worker blocks on Redis and takes a new task at once' },
  concurrency: { kind: 'int', default: 10, min: 1, doc: 'tasks run at once (from 32 up, or from 10 up while it is the swarm\'s only worker, the worker keeps two claims of half the slots on their way, so Redis and the worker overlap: docs/task-actors.md)' },
  heartbeatInterval: { kind: 'int', default: 1000, min: 1, doc: "ms between batched lease renewals (one call per worker); keep it at most taskTimeout/4 (the worker warns when it is more, once it reads the monitors' taskTimeout from Redis)" },
  stopGrace: { kind: 'int', default: 10000, min: 0, doc: 'ms `worker.stop()` lets running tasks finish before halting the rest (each gets abortTimeout to return) and handing them back to the queue' },
  abortTimeout: { kind: 'int', default: 5000, min: 0, doc: 'ms a task function gets to return after its AbortSignal fires (stop, reload, timeout) before it is ended anyway' },
  eventBuffer: { kind: 'int', default: 10000, min: 0, doc: 'task events held while Redis is unreachable (oldest dropped past this), sent in order when it returns' },
  maxPayloadBytes: { kind: 'int', default: MAX_PAYLOAD_BYTES, min: 1, doc: 'largest task JSON accepted from the queue; larger entries are dead-lettered' },
  ...COMMON_FIELDS,
} as const satisfies Record<string, Field>;

export const MONITOR_FIELDS = {
  taskTimeout: { kind: 'int', default: 30000, min: 1, doc: 'ms without a heartbeat after which a RUNNING task is requeued' },
  checkTaskInterval: { kind: 'int', default: 15000, min: 1, doc: 'ms between sweeps at most (and how soon a new schedule is seen); the monitor sweeps at least every taskTimeout/4 whatever this says (a longer gap, with every worker dead, would read as an outage), and also wakes at the earliest lease deadline and schedule tick' },
  maxAttempts: { kind: 'int', default: 5, min: 1, doc: "deaths of one task's worker (its claims that ended with the worker dead; tries that threw or timed out do not count) before the task is parked (dead letter) instead of requeued" },
  endRetention: { kind: 'int', default: 3600000, min: 0, doc: 'ms an ended task hash stays readable after cleanup (0 = delete at once, as the seed did)' },
  deadLetterMax: {
    kind: 'int',
    default: 10000,
    min: 0,
    doc: 'dead letters that hold no task (unparseable entries, duplicates) kept; each sweep drops the oldest past this, logged and counted (0 = keep all). Parked tasks are not counted: see deadLetterRetention',
  },
  deadLetterRetention: {
    kind: 'int',
    default: 0,
    min: 0,
    doc: 'ms a dead letter is kept, parked tasks included (their hash goes with it), logged and counted; 0 = until retried or purged',
  },
  ...COMMON_FIELDS,
} as const satisfies Record<string, Field>;

export const CLIENT_FIELDS = {
  maxPayloadBytes: {
    kind: 'int',
    min: 1,
    doc: "largest task JSON (bytes) `submit` and `submitMany` accept, and `schedule` for the task of each tick: a larger task is refused with a TaskTooLargeError, nothing written. Unset: the live workers' (a task over 64 KiB is refused when it is over every live worker's maxPayloadBytes)",
  },
} as const satisfies Record<string, Field>;

type ValueOf<F extends Field> = F['kind'] extends 'string'
  ? string
  : F['kind'] extends 'tls'
    ? TlsConfig
    : F['kind'] extends 'nodes'
      ? SentinelAddress[]
      : F extends { values: readonly (infer V)[] }
        ? V
        : number;
type Resolved<S extends Record<string, Field>> = {
  [K in keyof S as S[K] extends { default: unknown } ? K : never]: ValueOf<S[K]>;
} & {
  [K in keyof S as S[K] extends { default: unknown } ? never : K]?: ValueOf<S[K]>;
};
type Input<S extends Record<string, Field>> = { [K in keyof S]?: ValueOf<S[K]> };

export type RedisConfig = Resolved<typeof REDIS_FIELDS>;
/** (`durable: true` is one replica) */
export type RedisOptions = Omit<Input<typeof REDIS_FIELDS>, 'durable'> & { durable?: number | boolean };
/**
 * What a Worker or a Monitor is given: its fields of the schema (each optional), its Redis, a
 * logger, and the shared secret that authenticates peer pings (HMAC; all nodes of a swarm use
 * the same)
 */
export type ProcessOptions<S extends Record<string, Field>> = { [K in keyof S]?: S[K]['kind'] extends 'string' ? string : number } & {
  redis?: RedisOptions;
  logger?: LoggerLike;
  secret?: string;
};
/** a Client's own options (its `redis` and `logger` are resolved apart) */
export type ClientConfig = Resolved<typeof CLIENT_FIELDS>;
export type WorkerConfig = Resolved<typeof WORKER_FIELDS> & { redis: RedisConfig; secret?: string };
export type MonitorConfig = Resolved<typeof MONITOR_FIELDS> & { redis: RedisConfig; secret?: string };

/** Validate `input` against `schema`; unknown keys are an error too (they are usually typos). */
function resolveFields<S extends Record<string, Field>>(what: string, schema: S, input: Record<string, unknown>, allowExtra: string[] = []): Resolved<S> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (!(key in schema) && !allowExtra.includes(key)) {
      throw new ConfigError(`${what}: unknown option "${key}" (known: ${[...Object.keys(schema), ...allowExtra].join(', ')})`);
    }
  }
  for (const [key, field] of Object.entries(schema)) {
    const raw = input[key];
    if (raw === undefined || raw === null) {
      if ('default' in field && field.default !== undefined) out[key] = field.default;
      continue;
    }
    out[key] = check(`${what}.${key}`, field, raw);
  }
  return out as Resolved<S>;
}

function check(name: string, field: Field, raw: unknown): unknown {
  if (field.kind === 'tls' || field.kind === 'nodes') return raw; // checked with the rest of the connection form
  if (field.kind === 'string' || field.kind === 'enum') {
    if (typeof raw !== 'string') throw new ConfigError(`${name} must be a string, got ${quote(raw)}`);
    if (field.values && !field.values.includes(raw)) throw new ConfigError(`${name} must be ${field.values.map((v) => JSON.stringify(v)).join(' or ')}, got ${quote(raw)}`);
    return raw;
  }
  if (typeof raw !== 'number' || !Number.isFinite(raw) || !Number.isInteger(raw)) {
    throw new ConfigError(`${name} must be an integer, got ${quote(raw)}`);
  }
  if (field.kind === 'percent' && (raw < 0 || raw > 100)) throw new ConfigError(`${name} must be between 0 and 100, got ${raw}`);
  if (field.kind === 'port' && (raw < 0 || raw > 65535)) throw new ConfigError(`${name} must be a port number 0-65535, got ${raw}`);
  if (field.min !== undefined && raw < field.min) throw new ConfigError(`${name} must be >= ${field.min}, got ${raw}`);
  // Node timers cannot hold more than 2^31-1 ms (a longer one fires at once).
  if (raw > MAX_INT) throw new ConfigError(`${name} must be <= ${MAX_INT}, got ${raw}`);
  return raw;
}

function asObject(what: string, v: unknown): Record<string, unknown> {
  if (v === undefined) return {};
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${what} must be an object`);
  return v as Record<string, unknown>;
}

export function resolveRedisConfig(input: unknown): RedisConfig {
  const raw = { ...asObject('redis', input) };
  // `durable: true` asks for one replica, as most users write it
  if (typeof raw.durable === 'boolean') raw.durable = raw.durable ? 1 : 0;
  // one way to reach Redis, checked before the defaults fill host and port in
  const c = resolveConnectionForm(resolveFields('redis', REDIS_FIELDS, raw), raw);
  // A task's hash is taskPrefix + its id: a key name that starts with taskPrefix is the hash of
  // some id (newQueue "task-queue" is the task "queue"'s key), and a task of that id would
  // overwrite it. So every other name must stay out of taskPrefix's space.
  if (c.partitions > MAX_PARTITIONS) throw new ConfigError(`redis.partitions must be <= ${MAX_PARTITIONS}, got ${c.partitions}`);
  if (c.partitions > 1 && hashTag(c.keyPrefix) === undefined) {
    throw new ConfigError(`redis.partitions (${c.partitions}) spreads a swarm over Cluster slots by its keyPrefix's hash tag: give redis.keyPrefix one, e.g. "{swarm}:" (on a Cluster it is "{task-swarm}:" unless given)`);
  }
  if (c.taskPrefix === '') throw new ConfigError('redis.taskPrefix must not be empty: task keys would be the ids themselves and could be any other key');
  // (an empty name is the key prefix alone, a key no other component of the swarm reads: most
  // often a variable left unset, `--new-queue="$QUEUE"`, and a task submitted so was queued there)
  for (const name of ['newQueue', 'taskSet', 'endQueue', 'workerSet'] as const) {
    if (c[name] === '') throw new ConfigError(`redis.${name} must not be empty: its key would be the key prefix alone (default ${quote(REDIS_FIELDS[name].default)})`);
  }
  for (const name of ['newQueue', 'taskSet', 'endQueue', 'workerSet'] as const) {
    if (c[name].startsWith(c.taskPrefix)) {
      throw new ConfigError(`redis.${name} ("${c[name]}") must not start with redis.taskPrefix ("${c.taskPrefix}"): it would be the key of the task "${c[name].slice(c.taskPrefix.length)}"`);
    }
  }
  // Each name is a key of its own kind, with its own keys under it: two of them the same, or one
  // under another, and two structures share a key (the queue's list as the claimed set).
  const names = ['newQueue', 'taskSet', 'endQueue', 'workerSet'] as const;
  for (const [i, a] of names.entries()) {
    for (const b of names.slice(0, i)) {
      const [x, y] = c[a].length >= c[b].length ? [a, b] : [b, a];
      if (c[x] === c[y] || c[x].startsWith(`${c[y]}:`)) {
        throw new ConfigError(`redis.${x} (${quote(c[x])}) must differ from redis.${y} (${quote(c[y])}), and not start with it and a colon: the two would share keys`);
      }
    }
  }
  // The other way round too: the keys under these names (`<name>:<suffix>`, src/keys.ts) are in
  // taskPrefix's space when it starts with one of them and its colon.
  for (const [name, sample] of [['newQueue', 'queued'], ['taskSet', 'leases'], ['workerSet', 'seen']] as const) {
    const under = `${c[name]}:`;
    if (c.taskPrefix.startsWith(under)) {
      throw new ConfigError(
        `redis.taskPrefix (${quote(c.taskPrefix)}) must not start with redis.${name} and a colon (${quote(under)}): the runtime's keys named "${under}..." (its ${KEY_ROLES[name]} ${quote(under + sample)} among them) would be the keys of tasks`,
      );
    }
  }
  return c;
}

/** what the sample key under each name is, as the refusal above names it */
const KEY_ROLES = { newQueue: 'queued set', taskSet: 'lease index', workerSet: 'worker liveness zset' } as const;

function checkMetricsHost(what: string, host: string): void {
  const problem = hostProblem(host);
  if (problem) throw new ConfigError(`${what}.metricsHost must be an IP address or a host name, got ${quote(host)}: ${problem}`);
}

export function resolveWorkerConfig(input: unknown): WorkerConfig {
  const o = asObject('Worker options', input);
  const c = resolveFields('Worker', WORKER_FIELDS, o, ['redis', 'logger', 'secret']);
  checkLogger('Worker', o.logger);
  // (an empty one, as `process.env.X ?? ''` gives, would be no secret at all: peers answered unsigned)
  if (o.secret !== undefined && (typeof o.secret !== 'string' || o.secret === '')) throw new ConfigError(`Worker.secret must be a non-empty string${o.secret === '' ? ', got "" (leave it out for no secret)' : ''}`);
  if (c.host !== undefined) {
    const problem = hostProblem(c.host);
    if (problem) throw new ConfigError(`Worker.host must be an IP address or a host name, got ${quote(c.host)}: ${problem}`);
  }
  checkMetricsHost('Worker', c.metricsHost);
  if (c.advertise !== undefined) {
    const a = parseAddress(c.advertise, { strict: true });
    if (!a.ok) throw new ConfigError(`Worker.advertise must be "host:port" (IPv6: "[addr]:port"), got ${quote(c.advertise)}: ${a.reason}`);
  }
  return { ...c, redis: resolveRedisConfig(o.redis), secret: o.secret as string | undefined };
}

/** A Client's options other than `redis` and `logger`, checked against CLIENT_FIELDS (an unknown key refused, naming every known one). */
export function resolveClientFields(options: Record<string, unknown>): ClientConfig {
  return resolveFields('Client', CLIENT_FIELDS, options, ['redis', 'logger']);
}

export function resolveMonitorConfig(input: unknown): MonitorConfig {
  const o = asObject('Monitor options', input);
  const c = resolveFields('Monitor', MONITOR_FIELDS, o, ['redis', 'logger', 'secret']);
  checkLogger('Monitor', o.logger);
  // (an empty one, as `process.env.X ?? ''` gives, would be no secret at all: peers answered unsigned)
  if (o.secret !== undefined && (typeof o.secret !== 'string' || o.secret === '')) throw new ConfigError(`Monitor.secret must be a non-empty string${o.secret === '' ? ', got "" (leave it out for no secret)' : ''}`);
  checkMetricsHost('Monitor', c.metricsHost);
  return { ...c, redis: resolveRedisConfig(o.redis), secret: o.secret as string | undefined };
}

/**
 * Markdown table of every option, generated from the schema: the README's "Configuration"
 * section, written by tools/gen-docs.ts (not public API).
 */
export function configTable(): string {
  const rows: string[] = ['| option | applies to | default | meaning |', '|---|---|---|---|'];
  const add = (scope: string, schema: Record<string, Field>) => {
    for (const [key, f] of Object.entries(schema)) {
      const def = 'default' in f && f.default !== undefined ? `\`${JSON.stringify(f.default)}\`` : '—';
      rows.push(`| \`${key}\` | ${scope} | ${def} | ${f.doc} |`);
    }
  };
  add('`redis`', REDIS_FIELDS);
  add('Client', CLIENT_FIELDS);
  add('Worker', WORKER_FIELDS);
  add('Monitor', MONITOR_FIELDS);
  return rows.join('\n');
}
