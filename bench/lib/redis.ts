/**
 * The benchmark's private redis-server: a free port, a temp dir, no persistence
 * (`--save '' --appendonly no`). Never the shared server on 6379.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnRedis } from '../../tools/redis-process.js';
import { PIN, pin } from './pin.js';

export { freePort };

export interface BenchRedis {
  host: string;
  port: number;
  version: string;
  /** an admin connection (INFO, FLUSHALL, CONFIG, SLOWLOG) */
  admin: Redis;
  /** a new plain connection, named so SLOWLOG entries from it can be told apart */
  connection(name?: string): Redis;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'task-swarm-bench-'));
  const proc: ChildProcess = await spawnRedis({ port, dir });
  pin(proc.pid, PIN.redis);
  pin(process.pid, PIN.workers);
  let exited = false;
  proc.on('exit', () => {
    exited = true;
  });
  const conns: Redis[] = [];
  const connection = (name = 'bench') => {
    const c = new Redis({ host: '127.0.0.1', port, connectionName: name, maxRetriesPerRequest: 1, lazyConnect: false });
    c.on('error', () => {});
    conns.push(c);
    return c;
  };
  const admin = connection('bench-admin');
  const info = await admin.info('server');
  const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
  return {
    host: '127.0.0.1',
    port,
    version,
    admin,
    connection,
    stop: async () => {
      for (const c of conns) c.disconnect();
      if (!exited) {
        await new Promise<void>((r) => {
          proc.once('exit', () => r());
          proc.kill('SIGKILL');
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** INFO section parsed to key -> string */
export async function info(redis: Redis, section: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await redis.info(section)).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** INFO commandstats as command -> { calls, usec } */
export async function commandStats(redis: Redis): Promise<Record<string, { calls: number; usec: number }>> {
  const raw = await info(redis, 'commandstats');
  const out: Record<string, { calls: number; usec: number }> = {};
  for (const [k, v] of Object.entries(raw)) {
    const m = /calls=(\d+),usec=(\d+)/.exec(v);
    if (m) out[k.replace(/^cmdstat_/, '')] = { calls: Number(m[1]), usec: Number(m[2]) };
  }
  return out;
}

export async function usedMemory(redis: Redis): Promise<number> {
  return Number((await info(redis, 'memory')).used_memory);
}

/** Wipe data between runs (scripts stay cached), reset INFO counters. */
export async function resetRedis(redis: Redis): Promise<void> {
  await redis.flushall();
  await redis.config('RESETSTAT');
}
