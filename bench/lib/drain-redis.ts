/**
 * What the drains share (bench/seed-drain.ts, bench/peer-drain.ts, bench/redis-floor.ts): the
 * redis-server a drain runs on (the one given with --port, flushed, or one of its own on a free
 * port), and Redis's own measures of the drain (INFO cpu and commandstats), per task.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnRedis } from '../../tools/redis-process.js';

export interface DrainRedis {
  port: number;
  /** a connection for the drain's own reads (named `name`-admin) */
  admin: Redis;
  close(): void;
}

/** the drain's redis-server: the one on `port` (0: one of its own), FLUSHALLed and SCRIPT FLUSHed */
export async function drainRedis(port: number, name: string): Promise<DrainRedis> {
  let stop = () => {};
  if (!port) {
    port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), `${name}-`));
    const proc = await spawnRedis({ port, dir });
    stop = () => {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
  }
  const admin = new Redis({ host: '127.0.0.1', port, connectionName: `${name}-admin` });
  await admin.flushall();
  await admin.script('FLUSH');
  return {
    port,
    admin,
    close: () => {
      admin.disconnect();
      stop();
    },
  };
}

/** redis-server's CPU time so far (user + sys), µs */
export async function redisCpuUs(r: Redis): Promise<number> {
  const info = await r.info('cpu');
  const v = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (v('used_cpu_user') + v('used_cpu_sys')) * 1e6;
}

type Stats = Record<string, { calls: number; usec: number }>;
async function commandStats(r: Redis): Promise<Stats> {
  const out: Stats = {};
  for (const line of (await r.info('commandstats')).split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line);
    if (m) out[m[1]!] = { calls: Number(m[2]), usec: Number(m[3]) };
  }
  return out;
}

/**
 * Per task of `n`, since the last CONFIG RESETSTAT: the scripts' µs (which include the commands
 * run inside them), and the calls of every command, in scripts or beside them, but `skip`'s
 * (the drain's own reads)
 */
export async function drainCommands(r: Redis, n: number, skip: string[]): Promise<{ redisScriptUsPerTask: number; commandsPerTask: Record<string, number> }> {
  const stats = await commandStats(r);
  const skipped = new Set(['info', 'config|resetstat', 'config', ...skip]);
  const per = (x: number) => Math.round((x / n) * 100) / 100;
  const scriptUs = Object.entries(stats)
    .filter(([k]) => k.startsWith('evalsha') || k === 'eval' || k === 'fcall')
    .reduce((s, [, v]) => s + v.usec, 0);
  const commandsPerTask = Object.fromEntries(
    Object.entries(stats)
      .filter(([k]) => !skipped.has(k))
      .map(([k, v]) => [k, per(v.calls)]),
  );
  return { redisScriptUsPerTask: per(scriptUs), commandsPerTask };
}
