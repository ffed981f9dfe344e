/**
 * The HTTP endpoint a Prometheus server scrapes: `GET /metrics` answers a registry's exposition
 * text; anything else is a 404 (405 for another method on /metrics). Started by a Worker or a
 * Monitor given `metricsPort`, on `metricsHost` (127.0.0.1 unless set: metrics say which
 * functions run and how much, not for every host on the network by default).
 *
 * Reading the registry can fail (a collector's Redis read): the scrape is then a 500 with the
 * reason, and the process goes on. Errors of the server itself after it listens are reported, not
 * thrown, as the peer ping server's are.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { formatAddress } from '../address.js';
import { ListenError } from '../errors.js';

export interface MetricsServer {
  /** the port actually bound (with metricsPort 0, the one the system chose) */
  port: number;
  /** `http://host:port/metrics` */
  url: string;
  close(): Promise<void>;
}

/** a scrape that takes longer is cut (Prometheus's own default scrape timeout is 10 s) */
const REQUEST_TIMEOUT_MS = 10_000;

export function serveMetrics(registry: Registry, host: string, port: number, onError: (e: Error) => void = () => {}): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics unavailable: ${e instanceof Error ? e.message : String(e)}\n`);
      },
    );
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let listening = false;
    // Never `once`: an 'error' with no listener is thrown, and would end the process.
    server.on('error', (e: NodeJS.ErrnoException) => {
      if (!listening) {
        reject(new ListenError(`cannot listen on ${formatAddress(host, port)} for metrics: ${e.code === 'EADDRINUSE' ? 'port already in use' : e.message}`, e));
        return;
      }
      try {
        onError(e);
      } catch {
        // a failing report must not turn a survivable error into a crash
      }
    });
    server.listen(port, host, () => {
      listening = true;
      const a = server.address();
      const bound = typeof a === 'object' && a ? a.port : port;
      resolve({
        port: bound,
        url: `http://${formatAddress(host, bound)}/metrics`,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            // a scraper's keep-alive connection would hold close() open until it times out
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * A component's metrics endpoint: served from its start when `metricsPort` is set, closed with
 * it. (A Worker's and a Monitor's telemetry each hold one.)
 */
export class MetricsEndpoint {
  private server?: MetricsServer;

  constructor(
    private readonly registry: Registry,
    private readonly config: { metricsPort?: number; metricsHost: string },
  ) {}

  /** listens, when `metricsPort` is set (rejects with a ListenError); errors after that are logged */
  async open(log: { info(...a: unknown[]): void; warn(...a: unknown[]): void }): Promise<void> {
    if (this.config.metricsPort === undefined || this.server) return;
    this.server = await serveMetrics(this.registry, this.config.metricsHost, this.config.metricsPort, (e) => log.warn(`metrics server: ${e.message}; still serving`));
    log.info(`metrics on ${this.server.url}`);
  }

  /** `http://host:port/metrics`, while served */
  get url(): string | undefined {
    return this.server?.url;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }
}
