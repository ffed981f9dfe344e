/**
 * The ways to reach Redis, and the one check that a `redis` config names exactly one of them:
 *
 * - one node: `host`/`port`, or `url` (`redis://`, `rediss://` for TLS), with `tls` options;
 * - Redis Sentinel: `sentinels` + `name` (or a `redis+sentinel://h:p,h:p/name/db` url), asked
 *   for the current primary at every (re)connect, so a promoted replica is found on its own;
 * - Redis Cluster: `cluster` (or a `redis+cluster://h:p,h:p` url), the nodes to learn the
 *   cluster's layout from. Every key of a swarm must hash to one slot, so `keyPrefix` must hold
 *   a hash tag (`{swarm}:`); left out, it is `{task-swarm}:`.
 *
 * Certificates and keys are PEM text or the path of a PEM file: text that holds a PEM header
 * is PEM, anything else is a path, read here once (a config that names a missing file fails
 * when the component is built, naming the field, not at the first TLS handshake).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { parseAddress } from './address.js';
import { ConfigError } from './errors.js';
import { quote } from './quote.js';

export interface SentinelAddress {
  host: string;
  port: number;
}

export interface TlsConfig {
  /** the CA(s) that signed the server's certificate (default: the system's); PEM text, a Buffer of it, or a file's path */
  ca?: string | Buffer;
  /** this client's certificate, for a server that asks for one (`tls-auth-clients yes`) */
  cert?: string | Buffer;
  /** the private key of `cert` */
  key?: string | Buffer;
  /** the name the server's certificate must carry, when it is not the host connected to */
  servername?: string;
  /** false accepts any server certificate (tests only: it allows a man in the middle) */
  rejectUnauthorized?: boolean;
}

const TLS_KEYS = ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized'] as const;
const PEM_FIELDS = ['ca', 'cert', 'key'] as const;
const PEM_HEADER = '-----BEGIN ';
export const SENTINEL_PROTOCOL = 'redis+sentinel:';
export const CLUSTER_PROTOCOL = 'redis+cluster:';
/** the keyPrefix of a swarm on a Cluster when none is given: its hash tag puts every key in one slot */
export const CLUSTER_KEY_PREFIX = '{task-swarm}:';
/** the largest db number the schema takes (as for `db` itself) */
const MAX_DB = 2 ** 31 - 1;

/** what the connection form reads of a resolved config (the rest passes through unchanged) */
interface FormFields {
  host: string;
  port: number;
  url?: string;
  username?: string;
  password?: string;
  db: number;
  tls?: TlsConfig;
  sentinels?: SentinelAddress[];
  cluster?: SentinelAddress[];
  keyPrefix: string;
  name?: string;
  sentinelUsername?: string;
  sentinelPassword?: string;
  role: string;
}

/**
 * Check that `c` (defaults filled) names one way to reach Redis, and resolve it: a sentinel url
 * becomes `sentinels`/`name`/`db`, PEM files are read. `given` is the user's input, to tell an
 * option given from a default.
 */
export function resolveConnectionForm<C extends FormFields>(c: C, given: Record<string, unknown>): C {
  const has = (k: string) => given[k] !== undefined && given[k] !== null;
  const out: C = { ...c };
  const scheme = c.url?.toLowerCase() ?? '';
  if (scheme.startsWith(`${SENTINEL_PROTOCOL}//`)) {
    for (const k of ['sentinels', 'cluster', 'name', 'host', 'port']) {
      if (has(k)) throw new ConfigError(`redis.url (a ${SENTINEL_PROTOCOL}// url) and redis.${k} both say where Redis is: give one`);
    }
    Object.assign(out, parseSentinelUrl(c.url!));
    delete out.url;
  } else if (scheme.startsWith(`${CLUSTER_PROTOCOL}//`)) {
    for (const k of ['sentinels', 'cluster', 'host', 'port']) {
      if (has(k)) throw new ConfigError(`redis.url (a ${CLUSTER_PROTOCOL}// url) and redis.${k} both say where Redis is: give one`);
    }
    Object.assign(out, parseClusterUrl(c.url!));
    delete out.url;
  } else if (has('sentinels')) {
    for (const k of ['url', 'host', 'port', 'cluster']) {
      if (has(k)) throw new ConfigError(`redis.sentinels and redis.${k} are two ways to reach Redis: give one (the sentinels name the primary)`);
    }
    out.sentinels = checkNodes('redis.sentinels', given.sentinels);
  } else if (has('cluster')) {
    for (const k of ['url', 'host', 'port']) {
      if (has(k)) throw new ConfigError(`redis.cluster and redis.${k} are two ways to reach Redis: give one (the cluster's nodes say where each key is)`);
    }
    out.cluster = checkNodes('redis.cluster', given.cluster);
  } else if (c.url !== undefined) {
    // (the url names its own host and port: one given beside it was ignored without a word)
    for (const k of ['host', 'port']) {
      if (has(k)) throw new ConfigError(`redis.url and redis.${k} both say where Redis is: give redis.url or redis.host/port, not both`);
    }
    out.url = checkUrl(c.url);
    const db = urlDb(out.url);
    if (db !== undefined) out.db = db;
  }
  if (out.sentinels !== undefined) {
    if (out.name === undefined || out.name === '') throw new ConfigError('redis.name is missing: with redis.sentinels it names the primary the sentinels monitor (e.g. "mymaster")');
  } else {
    for (const k of ['name', 'sentinelUsername', 'sentinelPassword', 'role']) {
      if (has(k)) throw new ConfigError(`redis.${k} only goes with redis.sentinels (or a ${SENTINEL_PROTOCOL}// url)`);
    }
  }
  if (out.cluster !== undefined) {
    // a Cluster has database 0 only (SELECT is refused)
    if (out.db !== 0) throw new ConfigError(`redis.db must be 0 with redis.cluster: a Redis Cluster has no other database, got ${out.db}`);
    if (!has('keyPrefix')) out.keyPrefix = CLUSTER_KEY_PREFIX;
    else if (hashTag(out.keyPrefix) === undefined) {
      throw new ConfigError(
        `redis.keyPrefix must hold a hash tag with redis.cluster, e.g. "{${out.keyPrefix.replace(/[{}:]/g, '') || 'swarm'}}:", got ${JSON.stringify(out.keyPrefix)}: a swarm's scripts touch many of its keys at once, and Redis Cluster runs a script only when all its keys are in one slot`,
      );
    }
  }
  if (has('tls')) {
    if (out.url !== undefined && out.url.startsWith('redis://')) {
      throw new ConfigError('redis.tls is given but redis.url is redis://: write rediss:// for a TLS connection');
    }
    out.tls = resolveTls(given.tls);
  }
  return out;
}

/**
 * A redis:// or rediss:// url, its scheme in lower case: ioredis turns TLS on only for a url
 * that starts with "rediss://" exactly, so "REDISS://host" would connect in plain text. Errors
 * do not repeat the url (it may hold a password).
 */
function checkUrl(url: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss') {
    throw new ConfigError(`redis.url must start with redis://, rediss://, ${SENTINEL_PROTOCOL}// or ${CLUSTER_PROTOCOL}//${scheme === undefined ? '' : `, got ${scheme}://`}`);
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`redis.url (a ${scheme}:// url) cannot be read as a url: write ${scheme}://[user:password@]host:port[/db], with a password's special characters %-encoded`);
  }
  // ioredis decodes these when it connects: a bad escape was then a URIError, told as Redis out of reach
  const bad = (why: string) => new ConfigError(`redis.url (a ${scheme}:// url): ${why}`);
  decodePart(u.username, 'the user name', bad);
  decodePart(u.password, 'the password', bad);
  checkQuery(u, bad);
  return scheme + url.slice(scheme.length);
}

/** the query parameters of a redis:// url that mean something here (ioredis reads these four) */
const URL_PARAMETERS = ['db', 'password', 'username', 'family'];

/**
 * ioredis takes every query parameter of a url as a connection option of that name, a string:
 * `?foo=bar` was dropped without a word, and `?connectTimeout=500` passed over the config's
 * checks as the text "500". Only the four it reads as a url's own are taken, each once.
 */
function checkQuery(u: URL, bad: (why: string) => ConfigError): void {
  // A password holding an unencoded "?" ends the authority there: the rest of it, its "@" and
  // the host read as the query. Refused, such a query is not shown, not even a name from it.
  const refuse = (why: string) =>
    u.search.includes('@')
      ? bad(`its query, holding an "@", is no query a url may have: is it the rest of a password that holds a "?" (or a "#" or "/")? %-encode those in the password (%3F, %23, %2F)`)
      : bad(why);
  const seen = new Set<string>();
  for (const [name, value] of u.searchParams) {
    // (names only: a value may be a password)
    if (!URL_PARAMETERS.includes(name)) throw refuse(`its query parameter ${quote(name)} is not one a url may set (${URL_PARAMETERS.join(', ')}); give other connection options in the redis config (or their CLI flags)`);
    if (seen.has(name)) throw bad(`its query parameter ${quote(name)} is given twice`);
    seen.add(name);
    if (name === 'family' && !['0', '4', '6'].includes(value)) throw refuse(`its family parameter must be 4 (IPv4), 6 (IPv6) or 0 (either), got ${quote(value)}`);
    // (urlDb, after this, says what is wrong with any other db: it shows the value)
    if (name === 'db' && !/^\d+$/.test(value) && u.search.includes('@')) throw refuse('');
  }
}

/**
 * The hash tag of a key that starts with `prefix`, as Redis Cluster reads it (the text between
 * the first `{` and the first `}` after it, when not empty), or undefined when `prefix` alone
 * does not decide it.
 */
export function hashTag(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  if (open < 0) return undefined;
  const close = prefix.indexOf('}', open + 1);
  return close > open + 1 ? prefix.slice(open + 1, close) : undefined;
}

function checkNodes(what: string, raw: unknown): SentinelAddress[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new ConfigError(`${what} must be a non-empty array of { host, port }, got ${quote(raw)}`);
  return raw.map((s, i) => {
    const name = `${what}[${i}]`;
    if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new ConfigError(`${name} must be { host, port }, got ${quote(s)}`);
    const { host, port, ...rest } = s as Record<string, unknown>;
    const extra = Object.keys(rest);
    if (extra.length) throw new ConfigError(`${name}: unknown option "${extra[0]}" (known: host, port)`);
    if (typeof host !== 'string' || host === '') throw new ConfigError(`${name}.host must be a non-empty string, got ${quote(host)}`);
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError(`${name}.port must be a port number 1-65535, got ${quote(port)}`);
    }
    return { host, port };
  });
}

/**
 * `host:port,host:port` (IPv6 in brackets): the sentinels as the CLI and sentinel urls write
 * them. `what` names the option in errors.
 */
export function parseSentinelList(text: string, what: string): SentinelAddress[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new ConfigError(`${what} must be host:port[,host:port...], got ${JSON.stringify(text)}`);
  return parts.map((p) => {
    const a = parseAddress(p, { strict: true });
    if (!a.ok) throw new ConfigError(`${what}: ${JSON.stringify(p)} is not host:port (${a.reason})`);
    return { host: a.host.replace(/^\[|\]$/g, ''), port: a.port };
  });
}

/** `redis+cluster://[user:pass@]host:port[,host:port...][/]` */
function parseClusterUrl(url: string): Partial<FormFields> {
  const bad = (why: string) => new ConfigError(`redis.url must look like ${CLUSTER_PROTOCOL}//[user:password@]host:port[,host:port...]: ${why}`);
  const m = /^redis\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/i.exec(url);
  if (!m) throw bad('cannot read it (a Cluster has no database number to name)');
  return { cluster: parseSentinelList(m[2]!, 'redis.url'), ...userInfo(m[1], bad) };
}

/** a %-encoded part of a url: a bad %-escape is a ConfigError naming the part, not URIError (the value is not shown) */
function decodePart(text: string, what: string, bad: (why: string) => ConfigError): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw bad(`${what} holds a % that does not start an escape (write %25 for a % itself)`);
  }
}

/**
 * The database a redis:// url names, as ioredis reads it (its path, `/2`, else a `db` query
 * parameter; either wins over `db`): the connection selects it, and what a config says of `db`
 * must be that (a worker's claims key what they keep between calls by it,
 * src/lua/lib/plain-window.lua). Undefined when it names none. Anything else there is refused
 * here: ioredis hands it to parseInt, so `/abc` became SELECT NaN (refused by Redis in words
 * that name no url) and `/1.5` silently db 1.
 */
function urlDb(url: string): number | undefined {
  const u = new URL(url);
  const inPath = u.pathname.length > 1;
  const text = inPath ? u.pathname.slice(1) : u.searchParams.get('db');
  if (text === null) return undefined;
  if (!/^\d+$/.test(text) || Number(text) > MAX_DB) {
    // (the path only: the url may hold a password)
    const where = inPath ? `path ${JSON.stringify(u.pathname)}` : `db parameter ${JSON.stringify(text)}`;
    throw new ConfigError(`redis.url's ${where} is no database number: give a whole number from 0 to ${MAX_DB} (redis://host:port/2), or none for db 0`);
  }
  return Number(text);
}

/** `user:password` of a url, %-decoded */
function userInfo(text: string | undefined, bad: (why: string) => ConfigError): { username?: string; password?: string } {
  if (text === undefined) return {};
  const out: { username?: string; password?: string } = {};
  const i = text.indexOf(':');
  const user = decodePart(i < 0 ? text : text.slice(0, i), 'the user name', bad);
  if (user !== '') out.username = user;
  if (i >= 0) out.password = decodePart(text.slice(i + 1), 'the password', bad);
  return out;
}

/** `redis+sentinel://[user:pass@]host:port[,host:port...]/name[/db]` */
function parseSentinelUrl(url: string): Partial<FormFields> {
  const bad = (why: string) => new ConfigError(`redis.url must look like ${SENTINEL_PROTOCOL}//[user:password@]host:port[,host:port...]/name[/db]: ${why}`);
  const m = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]+)\/([^/?#]+)(?:\/(\d+))?\/?$/i.exec(url);
  if (!m) throw bad('cannot read it');
  const [, userinfo, hosts, name, db] = m;
  const out: Partial<FormFields> = {
    sentinels: parseSentinelList(hosts!, 'redis.url'),
    name: decodePart(name!, 'the name', bad),
  };
  if (db !== undefined) {
    if (Number(db) > MAX_DB) throw bad(`the db ${db} is above ${MAX_DB}`);
    out.db = Number(db);
  }
  Object.assign(out, userInfo(userinfo, bad));
  return out;
}

function resolveTls(raw: unknown): TlsConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`redis.tls must be an object { ca, cert, key, servername, rejectUnauthorized }, got ${kind(raw)}`);
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t)) {
    if (!(TLS_KEYS as readonly string[]).includes(k)) throw new ConfigError(`redis.tls: unknown option "${k}" (known: ${TLS_KEYS.join(', ')})`);
  }
  const out: TlsConfig = {};
  for (const k of PEM_FIELDS) {
    if (t[k] !== undefined) out[k] = readPem(`redis.tls.${k}`, t[k]);
  }
  if ((out.cert === undefined) !== (out.key === undefined)) {
    throw new ConfigError(`redis.tls.${out.cert === undefined ? 'cert' : 'key'} is missing: a client certificate goes with its key`);
  }
  if (t.servername !== undefined) {
    if (typeof t.servername !== 'string' || t.servername === '') throw new ConfigError(`redis.tls.servername must be a non-empty string, got ${quote(t.servername)}`);
    out.servername = t.servername;
  }
  if (t.rejectUnauthorized !== undefined) {
    if (typeof t.rejectUnauthorized !== 'boolean') throw new ConfigError(`redis.tls.rejectUnauthorized must be true or false, got ${quote(t.rejectUnauthorized)}`);
    out.rejectUnauthorized = t.rejectUnauthorized;
  }
  return out;
}

const pairsChecked = new WeakSet<TlsConfig>();

/**
 * A client certificate that OpenSSL cannot read, or a key that is not the certificate's, as a
 * ConfigError naming the field, when the first connection is made (once per config): left to
 * the TLS handshake, it is OpenSSL's bare error, thrown at start() with no field named. (Not in
 * resolveConnectionForm: a config may be checked without its files being real certificates.)
 */
export function checkTlsPair(t: TlsConfig): void {
  if (t.cert === undefined || t.key === undefined || pairsChecked.has(t)) return;
  const fails = (o: { cert?: string | Buffer; key?: string | Buffer }) => {
    try {
      createSecureContext(o);
      return undefined;
    } catch (e) {
      return (e as Error).message;
    }
  };
  const both = fails({ cert: t.cert, key: t.key });
  if (both !== undefined) {
    const cert = fails({ cert: t.cert });
    if (cert !== undefined) throw new ConfigError(`redis.tls.cert: OpenSSL cannot read the certificate (${cert})`);
    if (/key values mismatch/i.test(both)) throw new ConfigError(`redis.tls.key is not the key of redis.tls.cert (${both})`);
    throw new ConfigError(`redis.tls.key: OpenSSL cannot read the key (${both})`);
  }
  pairsChecked.add(t);
}

/**
 * Whether a value that is not PEM text may be shown in an error as the path it was taken for: a
 * key's value is shown only when it looks like a path (a private key's base64 body, pasted
 * without its header, never holds a "." and always starts with "MI").
 */
function showable(name: string, v: string): boolean {
  if (!name.endsWith('.key')) return true;
  return v.length <= 1024 && !/\s/.test(v) && (/^[/~.]/.test(v) || v.includes('.'));
}

/**
 * What a value is, without its content: for errors about `tls` and `key`, whose values may be key
 * material (a PEM key given as `tls` itself, Node's `[{ pem, passphrase }]`).
 */
function kind(v: unknown): string {
  if (v === null || v === undefined || typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return v === '' ? 'an empty string' : 'a string';
  return Array.isArray(v) ? 'an array' : `a value of type ${typeof v}`;
}

/** PEM text as given (a string, or a Buffer as readFileSync returns it), or read from the file it names */
function readPem(name: string, v: unknown): string {
  if (v instanceof Uint8Array) {
    const text = Buffer.from(v).toString('utf8');
    if (!text.includes(PEM_HEADER)) throw new ConfigError(`${name}: the Buffer given holds no PEM block ("${PEM_HEADER}...")`);
    return text;
  }
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${name} must be PEM text, a Buffer of it, or the path of a PEM file, got ${name.endsWith('.key') ? kind(v) : quote(v)}`);
  if (v.includes(PEM_HEADER)) return v;
  let text: string;
  try {
    text = readFileSync(v, 'utf8');
  } catch (e) {
    const what = showable(name, v) ? JSON.stringify(v) : 'the file it names (the value is not shown: it is no path and may be key material)';
    throw new ConfigError(`${name}: cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!text.includes(PEM_HEADER)) throw new ConfigError(`${name}: ${JSON.stringify(v)} holds no PEM block ("${PEM_HEADER}...")`);
  return text;
}
