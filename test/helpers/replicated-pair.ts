/**
 * A primary and one replica of a test's own (real redis-server processes), for redis.durable:
 * the replica is frozen with SIGSTOP to hold back its acknowledgements, as a replica that hangs
 * or is cut off does.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnRedis } from '../../tools/redis-process.js';
import { until } from './redis-server.js';

export interface ReplicatedPair {
  primaryPort: number;
  primaryAdmin: Redis;
  freeze(): void;
  thaw(): void;
  /** WAIT calls the primary has served so far */
  waits(): Promise<number>;
  close(): Promise<void>;
}

export async function startReplicatedPair(): Promise<ReplicatedPair> {
  const dirs: string[] = [];
  const dir = () => {
    const d = mkdtempSync(join(tmpdir(), 'durable-pair-'));
    dirs.push(d);
    return d;
  };
  const primaryPort = await freePort();
  const primary: ChildProcess = await spawnRedis({ port: primaryPort, dir: dir() });
  const replicaPort = await freePort();
  const replica: ChildProcess = await spawnRedis({ port: replicaPort, dir: dir() });
  const primaryAdmin = new Redis({ port: primaryPort });
  const replicaAdmin = new Redis({ port: replicaPort });
  await replicaAdmin.replicaof('127.0.0.1', String(primaryPort));
  await until(async () => (await replicaAdmin.info('replication')).includes('master_link_status:up'), 'the replica linked');
  return {
    primaryPort,
    primaryAdmin,
    freeze: () => void replica.kill('SIGSTOP'),
    thaw: () => void replica.kill('SIGCONT'),
    async waits() {
      const line = (await primaryAdmin.info('commandstats')).split('\r\n').find((l) => l.startsWith('cmdstat_wait:'));
      return Number(/calls=(\d+)/.exec(line ?? '')?.[1] ?? 0);
    },
    async close() {
      replica.kill('SIGCONT');
      primaryAdmin.disconnect();
      replicaAdmin.disconnect();
      primary.kill('SIGKILL');
      replica.kill('SIGKILL');
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
