/**
 * Redis connections. Every component opens its own: a command connection (auto-pipelined, so
 * events published in the same tick go out in one write), and where needed a subscriber and a
 * blocking connection, since a blocked or subscribed connection can run nothing else.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Cluster, Redis, type ClusterOptions, type RedisOptions as IORedisOptions } from 'ioredis';
import { formatAddress, normalizeHost } from './address.js';
import type { RedisConfig } from './config.js';
import { RedisUnavailableError } from './errors.js';
import { checkTlsPair, type TlsConfig } from './redis-forms.js';
import { checkServer, type ServerCheck } from './server-version.js';
import { selectRefusal, watchSelect } from './db-select.js';
import { learntMove, MOVED_RETRIES } from './cluster-redirect.js';
import { partitionKeys } from './partition-keys.js';
import { subscribeWhere } from './subscriber-home.js';

const lastError = new WeakMap<Connection, Error>();

/** the last error a connection's socket reported (ECONNREFUSED...), for messages */
export function lastConnectionError(redis: Connection): Error | undefined {
  return lastError.get(redis);
}

/** a connection to one Redis (a node, or the primary the sentinels name), or to a Cluster */
export type Connection = Redis | Cluster;

export type ConnectionRole = 'command' | 'subscriber' | 'blocking';

/**
 * A name for one component's connections, unique to it: `<hostname>-<pid>-<random>`. Stop finds
 * its own blocked connections by name (CLIENT LIST) to unblock them; a name built from the
 * peer address was shared by every host that defaulted to 127.0.0.1:6000, and by two workers
 * of one process, so it could unblock someone else's wait. CLIENT SETNAME refuses spaces.
 */
export function connectionOwner(): string {
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 64) || 'host';
  return `${host}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

export function connect(c: RedisConfig, role: ConnectionRole, name: string, extra: IORedisOptions = {}): Connection {
  const opts: IORedisOptions = {
    connectionName: `task-swarm:${name}:${role}`,
    username: c.username,
    password: c.password,
    // (pub/sub knows no databases: a subscriber selects none, so a server that lacks the db
    // drops only the connections that read and write keys, src/db-select.ts)
    db: role === 'subscriber' ? undefined : c.db,
    enableAutoPipelining: role === 'command',
    // Reconnect forever with a capped backoff: a task runner outlives Redis restarts.
    retryStrategy: (times) => Math.min(50 * times, 1000),
    // Commands issued while Redis is away wait for it (bounded per command), rather than fail
    // at once; the machines decide what to do while it is away.
    maxRetriesPerRequest: role === 'blocking' ? null : 2,
    lazyConnect: true,
    // no CLIENT SETINFO at connect: an ACL user would need it allowed, and Redis 7.0's ACL does
    // not know the command (docs/deployments.md); the connection name says who we are
    disableClientInfo: true,
    ...extra,
  };
  const redis = c.cluster ? newCluster(c, opts) : newRedis(c, opts);
  if (redis instanceof Cluster) {
    for (const node of redis.nodes()) hearEveryStreamError(node);
    redis.on('+node', (node: Redis) => hearEveryStreamError(node));
  } else hearEveryStreamError(redis);
  if (redis instanceof Cluster && role === 'subscriber') {
    subscribeWhere(redis, partitionKeys(c).map((k) => k.newQueue));
    moveStuckSubscriber(redis);
  }
  if (!(redis instanceof Cluster) && role === 'subscriber') handleResubscribes(redis);
  // (ioredis's "Reached the max retries per request limit" says nothing of why: the error before it does)
  onErrors(redis, (e) => {
    if (e.name !== 'MaxRetriesPerRequestError' || !lastError.has(redis)) lastError.set(redis, e);
  });
  return redis;
}

/**
 * A Cluster client: it learns which node serves which slot from `c.cluster`'s nodes, and
 * follows MOVED and ASK (a slot migrated) and a failover (a replica promoted) on its own. Every
 * key of a swarm is in one slot (`keyPrefix`'s hash tag), so each script and each pipeline goes
 * to one node, the one serving that slot. The options of one connection apply to each node's.
 */
function newCluster(c: RedisConfig, opts: IORedisOptions): Cluster {
  const { enableAutoPipelining, lazyConnect, retryStrategy, enableOfflineQueue, ...node } = opts;
  const tls = tlsOptions(c.tls);
  const retries = opts.maxRetriesPerRequest;
  const options: ClusterOptions = {
    enableAutoPipelining,
    lazyConnect,
    enableOfflineQueue,
    // every node unreachable: asked again as one Redis is. A command sent meanwhile waits in the
    // Cluster's own queue, which ioredis empties only when it gives up (maxRetriesPerRequest
    // bounds a node's reconnects, not that): each maxRetriesPerRequest + 1 rounds fail what
    // waits there, as that many reconnects to one Redis do (a worker's start, a client's call)
    clusterRetryStrategy: retryStrategy
      ? (times: number) => {
          if (typeof retries === 'number' && times % (retries + 1) === 0) failQueued(cluster, retries, NOT_READY);
          return retryStrategy(times) ?? null;
        }
      : undefined,
    // a failover takes the cluster its cluster-node-timeout and an election: commands refused
    // meanwhile (CLUSTERDOWN, or a node gone) are sent again after these delays, up to
    // maxRedirections times, rather than failed at once
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    // a slot just moved (src/slot-move.ts) may bounce between its old and new node for a round
    // trip, until the new one has taken it: redirections a little apart outlast that
    retryDelayOnMoved: 20,
    retryDelayOnTryAgain: 100,
    maxRedirections: 64,
    redisOptions: { ...node, ...(tls ? { tls } : {}) },
    // the primaries only: every component writes, and a replica's reads may be behind
    scaleReads: 'master',
  };
  const cluster = new Cluster(c.cluster!, options);
  askEachPrimary(cluster);
  return cluster;
}

/** how long a Cluster's subscriber connection may be silent: its handshake, or a PING once ready */
const SUBSCRIBER_SILENCE_MS = 3000;

/** a Cluster's subscriber connection (ioredis's ClusterSubscriber, private), if it has one */
function subscriberNode(cluster: Cluster): Redis | null | undefined {
  return (cluster as unknown as { subscriber?: { getInstance?(): Redis | null } }).subscriber?.getInstance?.();
}

/**
 * At each reconnect ioredis subscribes again, on its own, to what the connection had, and
 * nobody holds the promise of that SUBSCRIBE: refused (NOPERM, the channels taken from the ACL
 * user while it ran, which Redis answers by dropping the connection), it was an unhandled
 * rejection, which ends the process. Every subscribe of the connection gets a handler here; a
 * caller holding one still sees its rejection. (A Cluster's ClusterSubscriber handles its own.)
 */
function handleResubscribes(redis: Redis): void {
  for (const name of ['subscribe', 'psubscribe', 'ssubscribe'] as const) {
    const own = redis[name] as (...args: unknown[]) => Promise<unknown>;
    (redis as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      const p = own.apply(redis, args);
      p.catch(() => {});
      return p;
    };
  }
}

/**
 * A Cluster subscribes on one connection of its own, to a node drawn at random among all of
 * them, whichever keys the channels have. ioredis moves it to another node only when it
 * closes: a node that goes silent with its socket open (frozen, or cut off by a partition)
 * held it for good, in its handshake or once ready, while the cluster served on without that
 * node: every subscribe of a client waited, and no event of any task reached it (a worker, no
 * stop). One whose handshake, or a PING once it is ready, goes unanswered for
 * SUBSCRIBER_SILENCE_MS is dropped: ioredis draws another node and subscribes there what it had,
 * and the subscribes waiting are sent again. (Any node will do: a PUBLISH reaches the
 * subscribers of every node. It is drawn among the swarm's own primaries: src/subscriber-home.ts.)
 */
function moveStuckSubscriber(cluster: Cluster): void {
  let waiting: { node: Redis; status: string; since: number } | undefined;
  const timer = setInterval(() => {
    const node = subscriberNode(cluster);
    if (!node || (node.status !== 'connect' && node.status !== 'ready')) return void (waiting = undefined);
    if (waiting?.node === node && waiting.status === node.status) {
      if (Date.now() - waiting.since < SUBSCRIBER_SILENCE_MS) return;
      waiting = undefined;
      node.disconnect();
      return;
    }
    const w = { node, status: node.status, since: Date.now() };
    waiting = w;
    if (node.status === 'ready') {
      const answered = () => {
        if (waiting === w) waiting = undefined;
      };
      node.ping().then(answered, answered);
    }
  }, 1000);
  timer.unref();
  cluster.once('end', () => clearInterval(timer));
}

type ReadyCheck = (callback: (err?: Error | null, fail?: string) => void) => void;

/** how long after a primary said the cluster fails the others may still say it is ok */
const FAIL_GRACE_MS = 500;

/**
 * Before it uses a layout, ioredis asks one node drawn at random whether the cluster is ok
 * (CLUSTER INFO); a node that is down fails that check and the connect with it. On a cluster
 * serving the slots it has while one shard is dead (cluster-require-full-coverage no), one
 * connect in three failed so, and three in a row failed the commands waiting (a worker's
 * start). Here every primary is asked at once: the first that says the cluster is ok is enough
 * (one that does not answer, a partition, delays nothing); it fails when none says so: "fail"
 * when one said fail, else the first error. (`readyCheck` is private to ioredis:
 * test/review-cluster-partial.test.ts connects many times to such a cluster, each at once.)
 */
function askEachPrimary(cluster: Cluster): void {
  (cluster as unknown as { readyCheck: ReadyCheck }).readyCheck = (callback) => {
    const nodes = cluster.nodes('master');
    if (nodes.length === 0) return callback(new Error('no primary known'));
    // the first that says ok: one that says fail while another serves (cut off from the other
    // nodes, not from us) answered first whenever it was the seed, and failed the check. A fail
    // stands once the others had a while to say ok: a silent one must not hold the check (it is
    // asked again only once this one has failed).
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const settle = (err: Error | null, fail?: string) => {
      if (done) return;
      done = true;
      clearTimeout(grace);
      callback(err, fail);
    };
    const saidFail = new Error('fail');
    const ok = (info: unknown) => {
      if (!/^cluster_state:fail\b/m.test(String(info))) return;
      grace ??= setTimeout(() => settle(null, 'fail'), FAIL_GRACE_MS);
      throw saidFail;
    };
    Promise.any(nodes.map((n) => n.cluster('INFO').then(ok))).then(
      () => settle(null),
      (e: AggregateError) => (e.errors.includes(saidFail) ? settle(null, 'fail') : settle((e.errors[0] as Error | undefined) ?? e)),
    );
  };
}

/**
 * Why a Cluster is not ready: ioredis uses it once a node has given the layout and said the
 * cluster is ok (CLUSTER INFO); a cluster that answers "fail" (a slot served by no node) is
 * asked again and again, with no error of its own.
 */
export const NOT_READY = 'the cluster is not ready: no node answered, or the cluster says it is not ok (CLUSTER INFO cluster_state: a slot served by no node)';

/**
 * ioredis hears a connection's socket errors with `once`: its first error is reported (and the
 * connection closed, and made again), a second on the same socket has no listener, and Node
 * throws it, which ends the process. A TLS socket can emit two (a handshake refused for want of
 * a client certificate, then the server's reset: `read ECONNRESET` from TLSWrap), and so could
 * any socket whose error ioredis heard before the socket closed. Each socket ioredis makes here
 * (its connector's, a private part of ioredis) gets a listener that stays: what ioredis heard
 * first it still reports; later errors of a socket already given up are dropped.
 */
function hearEveryStreamError(redis: Redis): void {
  const connector = (redis as unknown as { connector?: { connect(e: unknown): Promise<NodeJS.EventEmitter> } }).connector;
  if (!connector || typeof connector.connect !== 'function') return;
  const connectOnce = connector.connect.bind(connector);
  connector.connect = async (e: unknown) => {
    const stream = await connectOnce(e);
    stream.on('error', () => {});
    return stream;
  };
}

/**
 * `conn`'s errors, said plainly: a Cluster that asked each node it knows for the layout and got
 * no answer says "Failed to refresh slots cache." (its nodes' own socket errors are not shown),
 * and so does one whose nodes answered that they are no Cluster.
 */
function onErrors(conn: Connection, report: (e: Error) => void): void {
  conn.on('error', (e: Error) => {
    const last = (e as { lastNodeError?: Error }).lastNodeError;
    if (e.name !== 'ClusterAllFailedError') {
      const refused = notSentinel(e.message);
      return report(refused ? new Error(refused, { cause: e }) : e);
    }
    // (a Redis that is no Cluster answers, refusing CLUSTER SLOTS: not "none answered")
    const noCluster = last && /cluster support disabled/i.test(last.message);
    report(new Error(noCluster ? `a node answered, but it is not a Redis Cluster (${last.message})` : `none of its nodes answered${last ? ` (${last.message})` : ''}`, { cause: e }));
  });
}

/**
 * ioredis's "All sentinels are unreachable ... Last error: ERR unknown command 'sentinel' ..." of
 * a server that answered, refusing SENTINEL (a plain Redis named where the sentinels go), said
 * as the Cluster form says of a node that is no Cluster; undefined for any other error.
 */
export function notSentinel(message: string): string | undefined {
  const last = /^All sentinels are unreachable.*?Last error: (.*)$/s.exec(message)?.[1]?.trim();
  if (!last || !/unknown command .?sentinel/i.test(last)) return undefined;
  return `a server named as a sentinel answered, but it is not a Redis Sentinel (${last.replace(/\s*\n\s*/g, ' ')}): name the sentinels (port 26379 by default), not the Redis they watch`;
}

/**
 * The nodes whose state a check must see: one Redis's connection itself, or each primary of
 * a Cluster (connected: it knows its nodes only then).
 */
export function primaries(conn: Connection): Redis[] {
  return conn instanceof Cluster ? conn.nodes('master') : [conn];
}

/**
 * A command with no key (CLIENT UNBLOCK, WAIT, INFO) run where `key` is: a Cluster sends a
 * keyless command to any node, so there it rides in a pipeline behind `EXISTS key`, which
 * ioredis routes to the node serving key's slot, on the same connection as that slot's other
 * commands (WAIT then covers their writes). One Redis runs it as it is.
 */
export async function atKey(conn: Connection, key: string, command: string, ...args: (string | number)[]): Promise<unknown> {
  if (!(conn instanceof Cluster)) return conn.call(command, ...args);
  for (let attempt = 1; ; attempt++) {
    const replies = await conn.pipeline().exists(key).call(command, ...args).exec();
    // EXISTS refused: the command ran on a node that does not serve key (a slot moved since
    // this connection learnt it, src/cluster-redirect.ts), so its reply is not the one asked for
    const [keyErr] = replies?.[0] ?? [new Error(`${command}: no reply from the cluster`)];
    if (attempt <= MOVED_RETRIES && (await learntMove(conn, key, keyErr))) continue;
    if (keyErr) throw keyErr;
    const [err, reply] = replies?.[1] ?? [new Error(`${command}: no reply from the cluster`), null];
    if (err) throw err;
    return reply;
  }
}

/** Redis's clock (ms), read on the node where `key` is: a TIME alone goes to any node of a Cluster, a silent one among them */
export async function redisTimeAt(conn: Connection, key: string): Promise<number> {
  const [s, us] = (await atKey(conn, key, 'TIME')) as [string, string];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/**
 * Resolves when a SUBSCRIBE sent on `conn` cannot be lost any more. ioredis writes a SUBSCRIBE
 * at once while a connection's handshake runs (status `connect`: the command may run while Redis
 * loads), which puts the connection in subscriber mode before its ready check: ioredis then
 * refuses the check's own INFO, drops the connection as failed, and what was subscribed
 * meanwhile is gone with it, though its SUBSCRIBE resolved. Before the handshake (the offline
 * queue, sent once ready) and after it, a SUBSCRIBE is safe. A Cluster subscribes on a node
 * connection of its own (ioredis's ClusterSubscriber, private), whose state is the one that counts.
 */
export function subscribable(conn: Connection): Promise<void> {
  const node = conn instanceof Cluster ? subscriberNode(conn) : conn;
  if (!node || node.status !== 'connect') return Promise.resolve();
  // one wait per handshake, whatever the subscribes held by it (a listener each was a warning
  // of a leak from the eleventh: a dashboard's streams opened again after a restart)
  let held = handshakes.get(node);
  if (!held) {
    held = new Promise((resolve) => {
      const done = () => {
        node.off('ready', done);
        node.off('close', done);
        handshakes.delete(node);
        resolve();
      };
      node.on('ready', done);
      node.on('close', done);
    });
    handshakes.set(node, held);
  }
  return held;
}

const handshakes = new WeakMap<Redis, Promise<void>>();

/** The client name a connection's nodes carry (CLIENT SETNAME), to find its waits. */
export function connectionName(conn: Connection): string | undefined {
  return conn instanceof Cluster ? conn.options.redisOptions?.connectionName : conn.options.connectionName;
}

/** ioredis's TLS options from ours (undefined values left out: tls.connect reads `key in`) */
function tlsOptions(t: TlsConfig | undefined): IORedisOptions['tls'] {
  if (t === undefined) return undefined;
  return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined));
}

/**
 * A connection in the form `c` names: a url (its scheme decides TLS, `tls` adds the
 * certificates), host/port (TLS when `tls` is given), or sentinels. With sentinels, ioredis asks
 * them for the primary at every connect, so a reconnect after a failover finds the promoted
 * replica; `failoverDetector` also drops the connection as soon as the sentinels announce a
 * switch, so a primary demoted while still up (a partition) is not written to meanwhile.
 */
function newRedis(c: RedisConfig, opts: IORedisOptions): Redis {
  if (c.tls) checkTlsPair(c.tls);
  const tls = tlsOptions(c.tls);
  if (c.sentinels) {
    const retries = opts.maxRetriesPerRequest;
    const redis: Redis = new Redis({
      // TLS to the sentinels and to the primary they name alike (one CA, one client certificate)
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      // asked again and again while every sentinel is down, as Redis itself is. ioredis counts
      // a round of unreachable sentinels as no reconnect, so `maxRetriesPerRequest` never
      // fired: a command queued while no sentinel names a primary (all down, or `name`
      // misspelt) waited forever (a Client's submit, a Monitor's first command). Each
      // maxRetriesPerRequest + 1 rounds fail the queued commands, as each that many reconnects
      // to one Redis do.
      sentinelRetryStrategy: (times) => {
        if (typeof retries === 'number' && times % (retries + 1) === 0) failQueued(redis, retries, 'no sentinel named a primary');
        return Math.min(50 * times, 1000);
      },
      ...opts,
      sentinels: c.sentinels,
      name: c.name,
      role: 'master',
      sentinelUsername: c.sentinelUsername,
      sentinelPassword: c.sentinelPassword,
      failoverDetector: true,
      // the failover detector's own connections to the sentinels: ioredis tries a lost one again
      // once a minute, so after the sentinels restarted (a rolling upgrade) a switch announced
      // within that minute reached no one, and a primary demoted while still up was written to
      // until something else broke the connection (10 s in test/review-deployments-sentinel.test.ts)
      sentinelReconnectStrategy: (times) => Math.min(100 * times, 2000),
    });
    askAgainAfterSwitch(redis);
    askAgainOnceListening(redis);
    return watchSelect(redis);
  }
  if (c.url) return watchSelect(new Redis(c.url, { ...opts, ...(tls ? { tls } : {}) }));
  return watchSelect(new Redis({ host: c.host, port: c.port, ...opts, ...(tls ? { tls } : {}) }));
}

/**
 * ioredis's failover detector (subscribed to +switch-master on the sentinels since the last
 * connect) closes the connector when a switch is announced. Announced while the connection was
 * already down and asking the sentinels again (the primary dead: a reconnect a second, each
 * asking a sentinel, over TLS a handshake each, long on a loaded machine), that close failed the
 * connect in progress with "Connection is closed.", which ioredis takes for a connection closed
 * by its owner: status 'end', never made again, and every later call refused (a Client's submits
 * for good, right after the promotion: test/sentinel-switch-mid-connect.test.ts). The
 * connect is made again there, from the next sentinel, unless its owner closed it
 * (`disconnect()` marks it so before it closes the connector). One announcement closes the
 * connector once (the detector is made anew at the next connected socket), so this loops no more.
 */
function askAgainAfterSwitch(redis: Redis): void {
  const r = redis as unknown as { connector?: { connect(e: unknown): Promise<NodeJS.EventEmitter> }; manuallyClosing?: boolean };
  const connector = r.connector;
  if (!connector || typeof connector.connect !== 'function') return;
  const connectOnce = connector.connect.bind(connector);
  connector.connect = async (e: unknown) => {
    // (bounded all the same: each try asks a sentinel, and only an announcement closes it)
    for (let tries = 1; ; tries++) {
      try {
        return await connectOnce(e);
      } catch (err) {
        if (tries >= 10 || !(err instanceof Error) || err.message !== 'Connection is closed.' || r.manuallyClosing !== false || redis.status !== 'connecting') throw err;
      }
    }
  };
}

/** how long the check of `askAgainOnceListening` waits for the sentinel's answer */
const SENTINEL_ASK_MS = 2000;

interface SentinelEndpoint {
  host?: string;
  port?: number;
}

/** the parts of ioredis's SentinelConnector and FailoverDetector used here (private to ioredis) */
interface SentinelInternals {
  resolve?(endpoint: SentinelEndpoint): Promise<SentinelEndpoint | null>;
  resolveMaster?(client: Redis): Promise<SentinelEndpoint | null>;
  connectToSentinel?(endpoint: SentinelEndpoint, options: IORedisOptions): Redis;
  initFailoverDetector?(): Promise<void>;
  failoverDetector?: { isDisconnected: boolean; sentinels: { address: SentinelEndpoint; client: Redis }[]; disconnect(): void } | null;
}

const sameEndpoint = (a: SentinelEndpoint, b: SentinelEndpoint) => a.host === b.host && a.port === b.port;

/**
 * ioredis asks a sentinel where the primary is, connects there, and only then subscribes its
 * failover detector to +switch-master on the sentinels: a switch announced between the
 * sentinel's answer and those subscriptions reached no one. A connection made so to a primary
 * that froze (SIGSTOP, a partition: its socket accepts, nothing answers) then waited in its
 * handshake for good, ioredis setting no time on it, while the sentinels named the promoted
 * replica. A worker's subscriber connection, made again by its silence watch about 3 s into a
 * freeze, is made just as a failover with a 1 s down-after ends: on a loaded machine it missed
 * the announcement, its control subscription was never acknowledged, and the worker claimed
 * nothing more (the Sentinel test of a frozen primary: a task submitted after the switch never
 * ran).
 *
 * Here, once the detector's subscription on the sentinel that named the address is
 * acknowledged, that sentinel is asked again: naming another address, the connection is
 * dropped as the detector drops it on an announcement (and made again, from the sentinels);
 * naming the same, any later switch is announced by it to a subscription in place. (The same
 * sentinel: another may write the same primary's address otherwise, a hostname for an IP.)
 */
function askAgainOnceListening(redis: Redis): void {
  const k = (redis as unknown as { connector?: SentinelInternals }).connector;
  if (!k || typeof k.resolve !== 'function' || typeof k.resolveMaster !== 'function' || typeof k.connectToSentinel !== 'function' || typeof k.initFailoverDetector !== 'function') return;
  const resolve = k.resolve.bind(k);
  const resolveMaster = k.resolveMaster.bind(k);
  const connectToSentinel = k.connectToSentinel.bind(k);
  const initFailoverDetector = k.initFailoverDetector.bind(k);
  /** the address the last sentinel asked by a connect named, and that sentinel: the connect is made there */
  let named: { by: SentinelEndpoint; at: SentinelEndpoint } | undefined;
  k.resolve = async (endpoint) => {
    const at = await resolve(endpoint);
    if (at) named = { by: endpoint, at };
    return at;
  };
  const ask = async (endpoint: SentinelEndpoint): Promise<SentinelEndpoint | null | undefined> => {
    const client = connectToSentinel(endpoint, { commandTimeout: SENTINEL_ASK_MS });
    client.on('error', () => {});
    try {
      return await resolveMaster(client);
    } catch {
      return undefined;
    } finally {
      client.disconnect();
    }
  };
  k.initFailoverDetector = () => {
    const made = named;
    const before = k.failoverDetector;
    const subscribed = initFailoverDetector();
    // (the detector made by this call: none is made without the option)
    const detector = k.failoverDetector !== before ? k.failoverDetector : undefined;
    // Its connections to the sentinels have no error listener in ioredis: each failed try to
    // reach a sentinel that is down printed "[ioredis] Unhandled error event" on the console,
    // again at every retry. They retry on their own, and the primary is found without that one.
    for (const s of detector?.sentinels ?? []) s.client.on('error', () => {});
    const sentinel = made && detector?.sentinels.find((s) => sameEndpoint(s.address, made.by));
    if (made && detector && sentinel) {
      const current = () => k.failoverDetector === detector && !detector.isDisconnected;
      // (queued behind the detector's own SUBSCRIBE on that connection: resolves once it is in place)
      // (nothing of it may reject unheard: an unhandled rejection ends the process)
      sentinel.client
        .subscribe('+switch-master')
        .then(async () => {
          if (!current()) return;
          const now = await ask(sentinel.address);
          // (no answer, or no primary named: the announcements of the other sentinels are left)
          if (!now || !current() || sameEndpoint(now, made.at)) return;
          detector.disconnect();
        })
        .catch(() => {});
    }
    return subscribed;
  };
}

/**
 * Reject the commands waiting for a connection, with the error ioredis gives when a command's
 * reconnects run out (its `flushQueue`: not in ioredis's types, hence the guarded call; a
 * Cluster's takes the error alone, and has only the one queue).
 */
function failQueued(redis: Connection, retries: number, why: string): void {
  const cause = lastError.get(redis)?.message;
  const e = new Error(`Reached the max retries per request limit (which is ${retries}): ${why}${cause ? ` (${cause.trim()})` : ''}`);
  e.name = 'MaxRetriesPerRequestError';
  (redis as unknown as { flushQueue?: (e: Error, o: { offlineQueue: boolean; commandQueue: boolean }) => void }).flushQueue?.(e, { offlineQueue: true, commandQueue: false });
}

/**
 * After `disconnect()`: ioredis leaves a connection that was waiting to reconnect as it was (it
 * clears the timer, and nothing ends it: no 'end', its queue kept), so the calls waiting in its
 * queue would never settle, and later calls would join them. Ended here as ioredis ends one
 * closed before it connected: status 'end' (later calls refused at once), its queues failed
 * with "Connection is closed." (the outage guard says which calls were sent).
 */
export function endStranded(redis: Connection): void {
  if (redis.status !== 'reconnecting') return;
  const r = redis as unknown as { setStatus?: (s: string) => void; flushQueue?: (e: Error) => void };
  r.setStatus?.('end');
  r.flushQueue?.(new Error('Connection is closed.'));
}

/** Where a config points, for messages (no password). */
export function redisAddress(c: RedisConfig): string {
  if (c.cluster) return `redis+cluster://${c.cluster.map((s) => formatAddress(s.host, s.port)).join(',')}`;
  if (c.sentinels) return `redis+sentinel://${c.sentinels.map((s) => formatAddress(s.host, s.port)).join(',')}/${c.name}`;
  if (c.url) {
    const u = new URL(c.url);
    u.password = '';
    u.username = '';
    // (ioredis reads options from the query too: ?password=... is a password)
    u.search = '';
    u.hash = '';
    return u.toString();
  }
  return `${c.tls ? 'rediss' : 'redis'}://${formatAddress(c.host, c.port)}`;
}

/**
 * What TLS may have to do with `cause` (a connection's failure), as " (...)" to end a line that
 * says Redis is unreachable; "" when TLS was not asked for or says nothing of it. The one place
 * these words are written: the CLI, a worker's or monitor's start and a Client's calls
 * (src/outage-guard.ts) all end their line with it. A TLS server that wants a client certificate
 * resets a connection that brings none (TLS 1.3 sends its alert after the handshake):
 * "ECONNRESET" alone does not say why.
 */
export function tlsHint(c: RedisConfig, cause: string): string {
  const tls = c.tls !== undefined || /^rediss:/i.test(c.url ?? '');
  if (!tls) return '';
  // (a Redis without TLS reads the handshake as the start of a command, and waits for its end:
  // the only sign is silence, which alone read as a frozen server; ioredis's connect timeout
  // says it as "connect ETIMEDOUT")
  // (the cure as the TLS was asked for: rediss:// in the url, else the `tls` option, which a
  // Sentinel's or a Cluster's form, or host and port, takes; "write redis://" told those of a
  // url they never wrote, and with `tls` beside rediss:// it alone is a ConfigError)
  if (/no answer|timed out|timeout|ETIMEDOUT/i.test(cause)) {
    const single = c.sentinels === undefined && c.cluster === undefined;
    const noTls = 'no tls (on the command line, no --redis-tls-* flag)';
    const cure = !single || !/^rediss:/i.test(c.url ?? '') ? `give ${noTls}` : c.tls !== undefined ? `write redis://, with ${noTls}` : 'write redis://';
    return ` (TLS was asked for: a server without TLS ${single ? 'on that port ' : ''}leaves the handshake unanswered; if it has none, ${cure})`;
  }
  if (c.tls?.cert !== undefined || !/ECONNRESET|certificate required|socket hang up/i.test(cause)) return '';
  return ' (a server that requires client certificates resets connections without one: give a client certificate and its key)';
}

/** " (the refusal)" for a line that says Redis is unreachable, if a refused SELECT is why; else "" */
export function refusedDb(redis: object, c: RedisConfig): string {
  const r = selectRefusal(redis, `Redis at ${redisAddress(c)}`);
  return r ? ` (${r.message})` : '';
}

/**
 * Where a component's swarm is, for its start line: the Redis, its db when the address does not
 * say it, and the key prefix. (A worker started against the default Redis, or without the
 * prefix the producers use, ran without a word while the tasks waited in another swarm.)
 */
export function swarmAt(c: RedisConfig): string {
  const db = c.db && !c.url ? ` db ${c.db}` : '';
  return `Redis ${redisAddress(c)}${db}${c.keyPrefix ? `, key prefix ${JSON.stringify(c.keyPrefix)}` : ''}`;
}

/**
 * What a server at the address that answered in another protocol than Redis's (a web server, an
 * SSH daemon: the wrong port) is told as, from ioredis's 'Protocol error, got "H" as reply type
 * byte. Please report this.'; undefined for any other cause.
 */
export function notRedisProtocol(cause: string): string | undefined {
  const m = /Protocol error, got (".*?") as reply type byte/.exec(cause);
  return m ? `answered, but does not speak the Redis protocol (its reply began ${m[1]}): another server listens there (check the port)` : undefined;
}

/** A start-up failure that came from Redis, as one clear error naming the server and the cause. */
export function unavailable(c: RedisConfig, redis: Connection, e: unknown): unknown {
  if (!(e instanceof Error) || e.name === 'ListenError' || (e as { code?: string }).code?.startsWith('ERR_')) return e;
  // (the connection was dropped for a db the server does not have: src/db-select.ts)
  const refused = selectRefusal(redis, `Redis at ${redisAddress(c)}`);
  if (refused) return refused;
  // (OpenSSL's messages end in a newline)
  const cause = (lastError.get(redis)?.message ?? e.message).trim().replace(/\s*\n\s*/g, ' ');
  // (reached, and it said no: not "cannot reach")
  if (/^WRONGPASS/.test(cause)) return new RedisUnavailableError(`Redis at ${redisAddress(c)} refused the password${c.username !== undefined ? ` of user ${JSON.stringify(c.username)}` : ''}: ${cause}`, e);
  if (/^NOAUTH/.test(cause)) return new RedisUnavailableError(`Redis at ${redisAddress(c)} wants a password (redis.password): ${cause}`, e);
  // (reached, and it is no sentinel: said by onErrors, or in ioredis's words if e is its own)
  const sentinel = /^a server named as a sentinel answered/.test(cause) ? cause : notSentinel(cause);
  if (sentinel) return new RedisUnavailableError(`Redis at ${redisAddress(c)}: ${sentinel}`, e);
  const foreign = notRedisProtocol(cause);
  if (foreign) return new RedisUnavailableError(`the server at ${redisAddress(c)} ${foreign}`, e);
  // (an error reply: the server answered, and refused the call)
  if (e.name === 'ReplyError') {
    const reply = e.message.trim().replace(/\s*\n\s*/g, ' ');
    const full = /^OOM /.test(reply) ? ' (it is full, at its maxmemory: free memory on it, or raise its maxmemory)' : '';
    return new RedisUnavailableError(`Redis at ${redisAddress(c)} refused: ${reply}${full}`, e);
  }
  // (caused by the socket's error, which the message names: ioredis's own, "Reached the max retries
  // per request limit... Refer to maxRetriesPerRequest", named an option no option of ours sets)
  return new RedisUnavailableError(`cannot reach Redis at ${redisAddress(c)}: ${cause}${tlsHint(c, cause)}`, lastError.get(redis) ?? e);
}

/**
 * One ping on a connection of its own, with no reconnects and no offline queue, to fail fast
 * (the CLI before a command, the demo): resolves when Redis answers, else rejects with the
 * socket's error (ECONNREFUSED... says more than ioredis's "Connection is closed.").
 */
export async function pingOnce(url: string, o: { username?: string; password?: string; timeoutMs: number }): Promise<void> {
  const probe = new Redis(url, {
    username: o.username,
    password: o.password,
    lazyConnect: true,
    connectTimeout: o.timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
  });
  let cause: Error | undefined;
  probe.on('error', (e: Error) => (cause ??= e));
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    throw cause ?? e;
  } finally {
    probe.disconnect();
  }
}

/**
 * `pingOnce` for any connection form (the CLI before a command): one connection, no reconnects,
 * then the server's version checked. Rejects with the socket's error, or the sentinels'.
 */
export async function probeOnce(c: RedisConfig, timeoutMs: number): Promise<ServerCheck> {
  const { conn, version } = await probeConnection(c, timeoutMs);
  conn.disconnect();
  return version;
}

/**
 * `probeOnce`, the connection left open for more pings (a CLI command's watch of Redis while it
 * waits: src/cli/redis-session.ts). It never reconnects: once closed it stays closed. Its
 * later errors are kept from the process (the caller sees them as its pings failing).
 */
export async function probeConnection(c: RedisConfig, timeoutMs: number): Promise<{ conn: Connection; version: ServerCheck }> {
  // (a Cluster: its nodes, each asked once; host/port are only defaults there)
  const probe = (c.cluster ? newCluster : newRedis)(c, {
    username: c.username,
    password: c.password,
    db: c.db,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    disableClientInfo: true,
    // each sentinel asked once, not forever
    sentinelRetryStrategy: () => null,
  });
  let cause: Error | undefined;
  onErrors(probe, (e) => (cause ??= e));
  // connectTimeout ends at the TCP connect: a frozen Redis (SIGSTOP, a host that hangs) accepts
  // the connection and never answers, so the whole probe has a deadline of its own. (Not left
  // to the close of the connection to reject what is pending: closing a socket a frozen peer
  // never closes took seconds more.)
  let expire: (e: Error) => void = () => {};
  const expired = new Promise<never>((_resolve, reject) => (expire = reject));
  const deadline = setTimeout(() => expire(new Error(`no answer within ${seconds(timeoutMs)}`)), timeoutMs);
  const probing = (async () => {
    try {
      await probe.connect();
      await probe.ping();
    } catch (e) {
      // (a db the server does not have dropped the connection: src/db-select.ts)
      throw selectRefusal(probe, `Redis at ${redisAddress(c)}`) ?? cause ?? e;
    }
    return await checkServer(probe, `Redis at ${redisAddress(c)}`);
  })();
  probing.catch(() => {}); // (its failure after the deadline is no one's)
  try {
    return { conn: probe, version: await Promise.race([probing, expired]) };
  } catch (e) {
    probe.disconnect();
    throw e;
  } finally {
    clearTimeout(deadline);
  }
}

/** 3000 -> "3 s", 1500 -> "1.5 s" */
const seconds = (ms: number) => `${Number((ms / 1000).toFixed(3))} s`;

/**
 * Both ends of `redis`'s connection, once it answers where `key` is: `local` is this host's
 * address on the interface that reaches Redis (what peers that reach the same Redis can most
 * likely reach too). Undefined over a Unix socket.
 */
export async function redisEnds(redis: Connection, key: string): Promise<{ local?: string; remote?: string }> {
  // (not a PING alone: a Cluster sends it to a node drawn at random, and one of another shard
  // that does not answer failed a worker's start)
  await atKey(redis, key, 'PING');
  const norm = (a?: string) => (a ? normalizeHost(a) : undefined);
  // (a Cluster: the first of its nodes with a socket)
  const stream = primaries(redis).find((n) => n.stream?.localAddress)?.stream;
  return { local: norm(stream?.localAddress), remote: norm(stream?.remoteAddress) };
}
