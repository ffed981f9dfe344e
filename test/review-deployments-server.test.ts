/**
 * Review of the start-up check against a replica (a primary and its replica from redis-server):
 * a monitor pointed at the replica started and failed every sweep after (READONLY); a worker
 * said "cannot reach Redis ... READONLY", a client's submit threw a bare ReplyError and the CLI
 * printed "unexpected error: READONLY". Each is now refused at start-up (a client: at its first
 * call) with a RedisUnavailableError saying it is a replica and of which primary; a client whose
 * replica is then promoted works at its next call (the refusal is not kept).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client, Monitor, RedisUnavailableError, Worker } from '../src/index.js';
import { freePort, until } from './helpers/redis-server.js';
import { nodeArgs, spawnServer, type ServerProcess } from './helpers/deployments.js';
import { runMain } from './helpers/cli.js';

let dir: string;
let primary: ServerProcess;
let replica: ServerProcess;
// a pair for each test: one of them promotes the replica
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'task-swarm-review-replica-'));
  const [p1, p2] = await Promise.all([freePort(), freePort()]);
  primary = await spawnServer(nodeArgs(p1!, dir, ['--dbfilename', 'primary.rdb']), p1!);
  replica = await spawnServer(nodeArgs(p2!, dir, ['--dbfilename', 'replica.rdb', '--replicaof', '127.0.0.1', String(p1)]), p2!);
  const r = new Redis({ port: p2 });
  await until(async () => /master_link_status:up/.test(await r.info('replication')), 'the replica in sync', 10_000, 50);
  r.disconnect();
});
afterEach(async () => {
  await replica?.kill();
  await primary?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('a component pointed at a replica', () => {
  const says = () => new RegExp(`^Redis at redis://127\\.0\\.0\\.1:${replica.port} is a replica of 127\\.0\\.0\\.1:${primary.port}: every component writes`);

  it('a worker and a monitor are refused at start(), the CLI in one line (the monitor started)', async () => {
    const redis = { port: replica.port, keyPrefix: 'replica:' };
    const w = new Worker({ port: 0, redis });
    const werr = await w.start().catch((e: unknown) => e);
    expect(werr).toBeInstanceOf(RedisUnavailableError);
    expect((werr as Error).message).toMatch(says());
    const m = new Monitor({ redis, checkTaskInterval: 200 });
    const merr = await m.start().then(
      async () => {
        await m.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(merr).toBeInstanceOf(RedisUnavailableError);
    expect((merr as Error).message).toMatch(says());
    const r = await runMain(['submit', 'x'], { REDIS_URL: `redis://127.0.0.1:${replica.port}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^task-swarm: ${says().source.slice(1)}`));
    expect(r.stderr).not.toMatch(/unexpected error|READONLY/);
  });

  it("a client's first call is refused the same way; once the replica is promoted, its next call works", async () => {
    const c = new Client({ redis: { port: replica.port, keyPrefix: 'replica:' } });
    try {
      const err = await c.submit('x').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RedisUnavailableError);
      expect((err as Error).message).toMatch(says());
      const admin = new Redis({ port: replica.port });
      await admin.call('REPLICAOF', 'NO', 'ONE');
      admin.disconnect();
      expect(await c.submit('x')).toBeTypeOf('string');
    } finally {
      await c.close();
    }
  });
});
