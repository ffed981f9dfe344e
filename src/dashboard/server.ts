/**
 * The dashboard: one page and a JSON API over Client and the swarm's Redis keys, with live
 * updates by Server-Sent Events. `createDashboard()` returns a Node request handler to mount in
 * an app, and `listen()` to serve it alone (127.0.0.1 unless told otherwise). Reads are open to
 * whoever reaches it; every POST needs the token and the page's own origin (request-guard.ts),
 * and none is taken in read-only mode.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { formatAddress, hostProblem, isLoopback } from '../address.js';
import type { AddressInfo } from 'node:net';
import { CLIENT_PATIENCE_MS, Client } from '../client.js';
import type { RedisOptions } from '../config.js';
import { ConfigError, ListenError, PermissionError, RedisUnavailableError, TaskNotFoundError, TaskSwarmError } from '../errors.js';
import { partitionKeys } from '../partitions.js';
import { quote } from '../quote.js';
import { connect, connectionOwner, lastConnectionError, redisAddress, type Connection } from '../redis.js';
import { guardOutage } from '../outage-guard.js';
import type { StopDeadlines } from '../command-deadlines.js';
import type { ControlInput } from '../wire.js';
import { machineTrees } from './machine-trees.js';
import { DASHBOARD_PAGE } from './page.js';
import { checkMutation } from './request-guard.js';
import { taskPage } from './task-pages.js';
import { followTask } from './task-follow.js';
import { readMonitors } from '../effects/monitors.js';
import { OwnersWatch, readWorkers } from './worker-view.js';

export interface DashboardOptions {
  redis?: RedisOptions;
  /** the secret every mutating request must carry (`Authorization: Bearer <token>`); without one, nothing can be changed */
  token?: string;
  /** refuse every mutating request, token or not */
  readOnly?: boolean;
  /** ms between status pushes to open pages (default 1000) */
  refreshInterval?: number;
  /**
   * the Host headers it answers (`name` or `name:port`); others get a 403, so a site that points a
   * name of its own at this address (DNS rebinding) cannot read it. Default: any when mounted;
   * with `listen` on a loopback address, localhost, 127.0.0.1, [::1] and that address at its port.
   */
  allowedHosts?: string[];
}

export interface Dashboard {
  /** the request handler, for `http.createServer(handler)` or an app's route */
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** serve it alone; resolves with its URL once listening */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const OPTIONS = ['redis', 'token', 'readOnly', 'refreshInterval', 'allowedHosts'];
const MAX_BODY = 64 * 1024;
/** bytes a task's event stream may hold for a page that does not read them, past which it is closed */
const STREAM_BEHIND_MAX = 8 * 1024 * 1024;
/** how long a status read may go unanswered before the open pages are told the dashboard waits for Redis */
const WAITING_SAID_MS = 2000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function createDashboard(options: DashboardOptions = {}): Dashboard {
  if (options === null || typeof options !== 'object') throw new ConfigError('createDashboard: options must be an object');
  for (const k of Object.keys(options)) if (!OPTIONS.includes(k)) throw new ConfigError(`createDashboard: unknown option "${k}" (known: ${OPTIONS.join(', ')})`);
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 8)) throw new ConfigError('createDashboard: token must be a string of at least 8 characters');
  const refresh = options.refreshInterval ?? 1000;
  if (typeof refresh !== 'number' || !(refresh >= 100)) throw new ConfigError('createDashboard: refreshInterval must be a number of ms >= 100');
  if (options.allowedHosts !== undefined && (!Array.isArray(options.allowedHosts) || !options.allowedHosts.every((h) => typeof h === 'string' && h !== ''))) {
    throw new ConfigError('createDashboard: allowedHosts must be an array of host names (name or name:port)');
  }
  let allowedHosts = options.allowedHosts && new Set(options.allowedHosts.map((h) => h.toLowerCase()));
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') throw new ConfigError(`createDashboard: readOnly must be true or false, got ${quote(options.readOnly)}`);
  const readOnly = options.readOnly === true;
  const token = options.token;
  const client = new Client({ redis: options.redis });
  // every partition's keys: task lists and running tasks are read from each; the workers, their
  // states and the monitors from the first (a worker registers in every partition and writes its
  // state in the first; a monitor sweeps every partition)
  const parts = partitionKeys(client.config);
  const keys = parts[0]!;
  let redis: Connection | undefined;
  // Guarded as the Client's connection is (src/outage-guard.ts): while Redis is away a read fails
  // as a RedisUnavailableError naming the server (a 503), not with ioredis's "Reached the max
  // retries per request limit", which named neither the server nor the cause and was a 500.
  let unguard: StopDeadlines | undefined;
  const conn = () => {
    if (redis) return redis;
    redis = connect(client.config, 'command', `dashboard-${connectionOwner()}`, { lazyConnect: false, maxRetriesPerRequest: 20 });
    redis.on('error', () => {});
    unguard = guardOutage(redis, client.config, CLIENT_PATIENCE_MS);
    return redis;
  };
  const streams = new Set<ServerResponse>();
  /** the tasks open pages follow (task-follow.ts): stopped on close, whoever serves the requests */
  const follows = new Set<() => void>();
  let server: ReturnType<typeof createServer> | undefined;

  // (which processes under an address heartbeat, told from one read to the next)
  const owners = new OwnersWatch();
  const overview = async () => {
    const [stats, workers, limits, schedules, dead] = await Promise.all([client.stats(), readWorkers(conn(), parts, owners), client.limits(), client.schedules(), client.deadLetters({ limit: 50 })]);
    const monitors = await readMonitors(conn(), keys, workers.now);
    return { readOnly, canAct: !readOnly && token !== undefined, stats, ...workers, monitors, limits, schedules, dead };
  };

  // one status read per tick, pushed to every open page
  let ticker: NodeJS.Timeout | undefined;
  const tick = async () => {
    let data: string;
    try {
      data = JSON.stringify(await overview());
    } catch (e) {
      data = JSON.stringify({ error: (e as Error).message });
    }
    // (a page still behind on the last status, not reading: it misses this one, which the next
    // supersedes, rather than have them all buffered here for as long as it stays open)
    for (const res of streams) if (!res.writableNeedDrain) res.write(`event: status\ndata: ${data}\n\n`);
  };
  const stopTicker = () => {
    clearInterval(ticker);
    ticker = undefined;
  };
  // A read that Redis does not answer waits up to the client's patience (10 s) before it fails:
  // meanwhile the open pages are told, from 2 s on, rather than shown the last counts as current.
  const waiting = (since: number) => {
    const c = redis;
    const e = c && c.status !== 'ready' ? lastConnectionError(c) : undefined;
    const why = e ? e.message.trim().replace(/\s*\n\s*/g, ' ') : `no answer for ${((performance.now() - since) / 1000).toFixed(0)} s`;
    const data = JSON.stringify({ error: `waiting for Redis at ${redisAddress(client.config)}: ${why}` });
    for (const res of streams) if (!res.writableNeedDrain) res.write(`event: status\ndata: ${data}\n\n`);
  };
  const startTicker = () => {
    if (ticker) return;
    let busySince: number | undefined;
    ticker = setInterval(() => {
      if (busySince !== undefined) {
        if (performance.now() - busySince >= WAITING_SAID_MS) waiting(busySince);
        return;
      }
      busySince = performance.now();
      void tick().finally(() => (busySince = undefined));
    }, refresh);
  };

  // (`: open` once what the stream carries is live: a task's events from then on all arrive)
  const sse = (req: IncomingMessage, res: ServerResponse, onClose: () => void, live: Promise<void> = Promise.resolve()) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    req.on('close', onClose);
    // A task's channel the Redis user may not read rejects `live` (the client logs it too): the
    // page is told why once, and the stream stays open, since an ended one makes the browser's
    // EventSource ask again every few seconds, refused each time.
    live.then(
      () => {
        if (!res.writableEnded) res.write(': open\n\n');
      },
      (e: unknown) => {
        if (!res.writableEnded) res.write(`event: refused\ndata: ${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n\n`);
      },
    );
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      let size = 0;
      const chunks: Buffer[] = [];
      const collect = (c: Buffer) => {
        size += c.length;
        if (size <= MAX_BODY) return void chunks.push(c);
        // Read on and dropped, not cut: a socket destroyed here took the 413 with it, and the
        // caller saw the connection close with no answer.
        req.off('data', collect);
        req.resume();
        reject(new HttpError(413, `the body is over ${MAX_BODY} bytes`));
      };
      req.on('data', collect);
      req.on('end', () => {
        if (size > MAX_BODY) return;
        const text = Buffer.concat(chunks).toString('utf8');
        if (text === '') return resolve({});
        try {
          const v = JSON.parse(text) as unknown;
          if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error();
          resolve(v as Record<string, unknown>);
        } catch {
          reject(new HttpError(400, 'the body must be a JSON object'));
        }
      });
      req.on('error', reject);
    });

  // (decodeURIComponent throws a URIError, which was answered as a 500 "URI malformed")
  const pathId = (encoded: string): string => {
    try {
      return decodeURIComponent(encoded);
    } catch {
      throw new HttpError(400, `the task id in the path is not percent-encoded UTF-8: ${quote(encoded)}`);
    }
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const taskRoute = /^\/api\/task\/([^/]+)(?:\/(stream|cancel|control))?$/.exec(path);
    if (method === 'GET' || method === 'HEAD') {
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          // the page is all inline and fetches only from here; nothing may frame it
          'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
          'x-frame-options': 'DENY',
          'referrer-policy': 'no-referrer',
        });
        return void res.end(DASHBOARD_PAGE);
      }
      if (path === '/api/overview') return send(res, 200, await overview());
      if (path === '/api/machines') return send(res, 200, machineTrees());
      if (path === '/api/tasks') {
        const limit = Number(url.searchParams.get('limit') ?? 50);
        return send(res, 200, await taskPage(conn(), parts, url.searchParams.get('list') ?? 'running', url.searchParams.get('from') ?? '0', limit));
      }
      if (path === '/api/stream') {
        streams.add(res);
        startTicker();
        // (the last page gone, nobody reads what a tick reads: it stops until a page opens again)
        sse(req, res, () => {
          streams.delete(res);
          if (streams.size === 0) stopTicker();
        });
        return void tick();
      }
      if (taskRoute && taskRoute[2] === undefined) {
        const t = await client.get(pathId(taskRoute[1]!));
        if (!t) throw new TaskNotFoundError(pathId(taskRoute[1]!));
        return send(res, 200, t);
      }
      if (taskRoute && taskRoute[2] === 'stream') {
        const stop = followTask(client, pathId(taskRoute[1]!), (ev) => {
          if (res.destroyed) return;
          res.write(`event: task\ndata: ${JSON.stringify(ev)}\n\n`);
          // A page this far behind is not reading: closed, its backlog freed, rather than every
          // event buffered here for as long as it stays open (its EventSource opens it again
          // once it reads, and the page reads the task again then).
          if (res.writableLength > STREAM_BEHIND_MAX) res.destroy();
        });
        follows.add(stop);
        return sse(req, res, () => (follows.delete(stop), stop()), stop.ready);
      }
      throw new HttpError(404, 'not found');
    }
    if (method !== 'POST') throw new HttpError(405, 'method not allowed');
    const refused = checkMutation(req, token, readOnly);
    if (refused) throw new HttpError(refused.status, refused.reason);
    const body = await readBody(req);
    if (taskRoute?.[2] === 'cancel') return send(res, 200, { result: await client.cancel(pathId(taskRoute[1]!)) });
    if (taskRoute?.[2] === 'control') {
      const m = body.message;
      const message: ControlInput | undefined =
        m === 'stop' || m === 'reload' ? m : m !== null && typeof m === 'object' && typeof (m as { event_name?: unknown }).event_name === 'string' ? { event_name: (m as { event_name: string }).event_name, event: (m as { event?: unknown }).event } : undefined;
      if (!message) throw new HttpError(400, 'message must be "stop", "reload" or {event_name, event}');
      const result = await client.control(pathId(taskRoute[1]!), message);
      // (a stop that found the task waiting or ended sent nothing: `result` says what it did)
      return send(res, 200, { sent: result === 'sent' || result === 'stopping', result });
    }
    if (path === '/api/dead/retry' || path === '/api/dead/purge') {
      if (typeof body.key !== 'string' || body.key === '') throw new HttpError(400, 'key must be a dead letter key');
      const done = path.endsWith('retry') ? await client.retryDead(body.key) : await client.purgeDead(body.key);
      // (a letter another operator, or a second click, took already: the page shows `error`, so say
      // why, as the CLI's retry-dead and purge-dead do, rather than a bare 404)
      return send(res, done ? 200 : 404, done ? { done } : { done, error: `no dead letter with key ${body.key} (retried, purged or dropped already)` });
    }
    throw new HttpError(404, 'not found');
  };

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (allowedHosts && !allowedHosts.has(host) && !allowedHosts.has(host.replace(/:\d+$/, ''))) return send(res, 403, { error: `host ${JSON.stringify(host)} is not one this dashboard answers` });
    route(req, res).catch((e: unknown) => {
      // (a PermissionError is this dashboard's Redis user refused the action: forbidden, not a
      // bad request)
      const status = e instanceof HttpError ? e.status : e instanceof TaskNotFoundError ? 404 : e instanceof PermissionError ? 403 : e instanceof RedisUnavailableError ? 503 : e instanceof TaskSwarmError ? 400 : 500;
      if (res.headersSent) return void res.end();
      send(res, status, { error: e instanceof Error ? e.message : String(e), code: e instanceof TaskSwarmError ? e.code : undefined });
    });
  };

  return {
    handler,
    listen: (port, host = '127.0.0.1') =>
      new Promise<string>((resolve, reject) => {
        // (Node listens on a text as a socket file's path, and throws a RangeError of its own for a number out of range)
        if (!Number.isInteger(port) || port < 0 || port > 65535) return reject(new ConfigError(`dashboard: port must be an integer from 0 to 65535, got ${quote(port)}`));
        // (Node listens on every interface for an empty host: as a Worker's host, it is refused)
        const problem = typeof host === 'string' ? hostProblem(host) : 'not a string';
        if (problem) return reject(new ConfigError(`dashboard: host must be an IP address or a host name, got ${quote(host)}: ${problem}`));
        server = createServer(handler);
        // (as the metrics server and the peer server do: an error naming the address, typed)
        server.once('error', (e: NodeJS.ErrnoException) => reject(new ListenError(`cannot listen on ${formatAddress(host, port)} for the dashboard: ${listenFailure(e)}`, e)));
        server.listen(port, host, () => {
          const a = server!.address() as AddressInfo;
          // (a link-local address's zone, fe80::1%eth0, written as a URL writes it: %25, RFC 6874)
          const at = `${a.family === 'IPv6' ? `[${a.address.replace('%', '%25')}]` : a.address}:${a.port}`;
          // (the address it listens on answers too, as written and as a browser sends it: on
          // 127.0.0.2 or ::ffff:127.0.0.1 the URL resolved with was answered 403, its own host
          // not one of localhost, 127.0.0.1 and [::1]; a browser writes [::ffff:7f00:1])
          if (!allowedHosts && isLoopback(a.address)) allowedHosts = new Set([...['localhost', '127.0.0.1', '[::1]'].map((h) => `${h}:${a.port}`), at, hostOfUrl(at)]);
          resolve(`http://${at}/`);
        });
      }),
    close: async () => {
      stopTicker();
      for (const stop of follows) stop();
      follows.clear();
      for (const res of streams) res.end();
      streams.clear();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((r) => server!.close(() => r()));
      }
      await client.close();
      unguard?.();
      redis?.disconnect();
    },
  };
}

/** `host:port` as a browser sends it ([::ffff:7f00:1]:80 for [::ffff:127.0.0.1]:80); as given when it is no WHATWG URL's host */
function hostOfUrl(at: string): string {
  try {
    return new URL(`http://${at}/`).host;
  } catch {
    return at;
  }
}

/** why a server could not listen, in words (the system's message else) */
function listenFailure(e: NodeJS.ErrnoException): string {
  if (e.code === 'EADDRINUSE') return 'port already in use';
  if (e.code === 'EADDRNOTAVAIL') return 'no such address on this host';
  if (e.code === 'EACCES') return 'permission denied (a port below 1024 needs privileges)';
  return e.message;
}
