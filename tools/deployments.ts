/**
 * Redis deployments beyond one plain node, built from the redis-server binary for a test: a
 * server with any arguments (TLS, an ACL file, a replica), sentinels with their own config
 * files, and a throwaway CA with server and client certificates made by openssl. Every process
 * is killed when the test process exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis, type RedisOptions } from 'ioredis';

const alive = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of alive) p.kill('SIGKILL');
});

export interface ServerProcess {
  proc: ChildProcess;
  port: number;
  /** its last output lines, for failure messages */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * `redis-server ...args` (a config file first, or `--sentinel` after it), resolved once `probe`
 * (options of an ioredis connection to it) answers PING.
 */
export async function spawnServer(args: string[], port: number, probe: RedisOptions = {}, timeoutMs = 8000): Promise<ServerProcess> {
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  alive.add(proc);
  proc.on('exit', () => alive.delete(proc));
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-4000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`redis-server ${args.join(' ')} exited at once: ${out.trim().split('\n').slice(-3).join(' | ')}`);
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, ...probe });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.ping();
      break;
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`redis-server on port ${port} did not answer within ${timeoutMs} ms: ${out.trim().split('\n').slice(-3).join(' | ')}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    } finally {
      c.disconnect();
    }
  }
  return {
    proc,
    port,
    output: () => out,
    kill: (signal: NodeJS.Signals = 'SIGKILL') =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      }),
  };
}

/** The arguments of a private node: loopback only, no persistence, its files in `dir`. */
export function nodeArgs(port: number, dir: string, extra: string[] = []): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra];
}

/**
 * A sentinel on `port` watching the primary `name` at 127.0.0.1:`primaryPort` (quorum 2), down
 * after a second so a failover takes a second or two. Sentinel rewrites its config file, so each
 * gets its own in `dir`. `failoverTimeout` also delays how soon a sentinel re-points a replica
 * that follows another address than the primary's (e.g. through a proxy): not before it.
 */
export async function spawnSentinel(
  dir: string,
  port: number,
  name: string,
  primaryPort: number,
  failoverTimeout = 5000,
  /** TLS: the sentinel's lines (`tls-port`, `tls-replication yes`...) and the probe's options; `port` is then its TLS port */
  tls?: { lines: string[]; probe: RedisOptions },
): Promise<ServerProcess> {
  const conf = join(dir, `sentinel-${port}.conf`);
  writeFileSync(
    conf,
    [
      ...(tls ? ['port 0', `tls-port ${port}`, ...tls.lines] : [`port ${port}`]),
      'bind 127.0.0.1',
      'protected-mode no',
      `dir ${dir}`,
      `sentinel monitor ${name} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${name} 1000`,
      `sentinel failover-timeout ${name} ${failoverTimeout}`,
      `sentinel parallel-syncs ${name} 1`,
      '',
    ].join('\n'),
  );
  return spawnServer([conf, '--sentinel'], port, tls?.probe);
}

export interface Certificates {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/**
 * A CA, a server certificate for 127.0.0.1/localhost and a client certificate, signed by it:
 * PEM files in `dir`, made with openssl (EC keys: fast), valid one day.
 */
export function makeCertificates(dir: string): Certificates {
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const key = (name: string) => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', f(name));
  key('ca.key');
  ssl('req', '-x509', '-new', '-key', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=task-swarm test CA');
  const sign = (name: string, cn: string, ext: string) => {
    key(`${name}.key`);
    ssl('req', '-new', '-key', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    writeFileSync(f(`${name}.ext`), ext);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '1', '-extfile', f(`${name}.ext`));
  };
  sign('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sign('client', 'task-swarm test client', 'extendedKeyUsage=clientAuth\n');
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

export interface ClusterDeployment {
  /** every node, primaries first (in slot order) then their replicas */
  nodes: ServerProcess[];
  /** the seed nodes a client is given */
  seeds: { host: string; port: number }[];
}

/**
 * A Redis Cluster of `primaries` primaries with `replicas` replicas each (redis-server
 * --cluster-enabled, joined by `redis-cli --cluster create`), on free local ports, each node's
 * cluster bus on a free port of its own (`cluster-port`). `nodeTimeout` is the cluster's
 * cluster-node-timeout: a primary silent that long is failed over to its replica. Resolves once
 * every node says cluster_state:ok and every replica is in sync.
 */
export async function spawnCluster(dir: string, ports: number[], busPorts: number[], o: { primaries?: number; replicas?: number; nodeTimeout?: number; extra?: string[] } = {}): Promise<ClusterDeployment> {
  const primaries = o.primaries ?? 3;
  const replicas = o.replicas ?? 1;
  const count = primaries * (1 + replicas);
  if (ports.length < count || busPorts.length < count) throw new Error(`spawnCluster: ${count} ports and bus ports needed`);
  const nodes = await Promise.all(
    ports.slice(0, count).map((port, i) =>
      spawnServer(
        nodeArgs(port, dir, [
          '--cluster-enabled', 'yes',
          '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-port', String(busPorts[i]),
          '--cluster-node-timeout', String(o.nodeTimeout ?? 2000),
          '--dbfilename', `dump-${port}.rdb`,
          ...(o.extra ?? []),
        ]),
        port,
      ),
    ),
  );
  const seeds = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  // (create assigns the first `primaries` addresses as primaries and the rest as their replicas)
  execFileSync('redis-cli', ['--cluster', 'create', ...seeds.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { stdio: 'pipe' });
  const deadline = Date.now() + 30_000;
  for (const n of nodes) {
    const c = new Redis({ port: n.port, lazyConnect: true, retryStrategy: () => null });
    c.on('error', () => {});
    try {
      for (;;) {
        const info = (await c.cluster('INFO')) as string;
        const repl = await c.info('replication');
        const replicaOk = !/role:slave/.test(repl) || /master_link_status:up/.test(repl);
        if (/cluster_state:ok/.test(info) && replicaOk) break;
        if (Date.now() > deadline) throw new Error(`cluster node ${n.port} not ready: ${info.split('\n')[0]}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      c.disconnect();
    }
  }
  return { nodes, seeds };
}
