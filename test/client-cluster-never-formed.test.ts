/**
 * A Client in the Cluster form whose nodes answer but serve no slot: a cluster not yet made
 * (its nodes started with cluster-enabled, `redis-cli --cluster create` not run), or made a
 * moment later. ioredis holds each pipeline (an auto-pipeline's batch: every call of the
 * Client) until the slots are known, outside any queue the outage guard's patience reaches: on
 * a cluster never made, every call waited for good, with no error. A held call now fails past
 * the patience (10 s), as one waiting in a queue does: a RedisUnavailableError, nothing sent;
 * one made within it waits for the slots and runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client, RedisUnavailableError } from '../src/index.js';
import { surelyNotRun } from '../src/call-fate.js';
import { nodeArgs, spawnServer, type ServerProcess } from './helpers/deployments.js';
import { freePort } from './helpers/redis-server.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let nodes: ServerProcess[] = [];
let dir: string | undefined;

/** three cluster-enabled nodes, no cluster made of them: their ports */
async function unmadeNodes(): Promise<number[]> {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-never-formed-'));
  const ports = await Promise.all(Array.from({ length: 6 }, () => freePort()));
  nodes = await Promise.all(
    ports.slice(0, 3).map((port, i) =>
      spawnServer(nodeArgs(port, dir!, ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-port', String(ports[3 + i]), '--cluster-node-timeout', '2000', '--dbfilename', `dump-${port}.rdb`]), port),
    ),
  );
  return ports.slice(0, 3);
}

const make = (ports: number[]) =>
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'pipe' });

afterEach(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  nodes = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe('a Client in the Cluster form, its nodes serving no slot', () => {
  it('never made: a call fails past the patience, nothing sent, where it waited for good', async () => {
    const ports = await unmadeNodes();
    const c = new Client({ redis: { cluster: [{ host: '127.0.0.1', port: ports[0]! }], keyPrefix: '{unmade}:' }, logger: quiet });
    try {
      const t0 = performance.now();
      const err = await Promise.race([c.submit('x', 1).catch((e: unknown) => e), new Promise((r) => setTimeout(() => r('still waiting'), 35_000))]);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect(surelyNotRun(err)).toBe(true);
      expect((err as Error).message).toMatch(/^cannot reach Redis at redis\+cluster:\/\/127\.0\.0\.1:\d+: no connection within 10 s \(.*\); nothing was sent$/);
      expect(performance.now() - t0).toBeGreaterThan(9_000);
    } finally {
      await c.close();
    }
  }, 60_000);

  it('made a few seconds after the Client started: its calls wait for the slots and run', async () => {
    const ports = await unmadeNodes();
    const c = new Client({ redis: { cluster: [{ host: '127.0.0.1', port: ports[0]! }], keyPrefix: '{late}:' }, logger: quiet });
    try {
      const submitted = c.submit('x', 1);
      const read = c.get('none');
      await new Promise((r) => setTimeout(r, 2000));
      make(ports);
      expect(typeof (await submitted)).toBe('string');
      expect(await read).toBeNull();
      expect((await c.stats()).queued).toBe(1);
    } finally {
      await c.close();
    }
  }, 60_000);
});
