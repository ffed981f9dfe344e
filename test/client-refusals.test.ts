/**
 * What Redis refuses, a Client's caller meets as a TaskSwarmError with a code (README: "every
 * error a caller can meet"): a wrong or missing password, an ACL user without the command, a
 * Redis at its maxmemory. They came as ioredis's bare ReplyError (no code; a MULTI's "EXECABORT
 * Transaction discarded", which named neither the command nor why). Every public async method
 * of the Client answers so (CLIENT_CALLS, kept complete below).
 */
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { Client, PermissionError, RedisUnavailableError } from '../src/index.js';
import { CLIENT_CALLS } from '../src/client.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
let admin: Redis;
const clients: Client[] = [];
const client = (redis: Record<string, unknown>) => {
  const c = new Client({ redis: { ...server.options(), ...redis } });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  server = await startRedis();
  admin = server.client();
  // (the library loaded, as on a Redis a swarm runs on)
  await client({}).stats();
});
afterAll(async () => {
  await admin.config('SET', 'maxmemory', '0');
  for (const c of clients) await c.close().catch(() => {});
  await server.stop();
});

describe("Redis's refusals, as a Client's caller meets them", () => {
  it('every public async method of the Client is one of CLIENT_CALLS', () => {
    const source = ts.createSourceFile('client.ts', readFileSync(new URL('../src/client.ts', import.meta.url), 'utf8'), ts.ScriptTarget.Latest);
    const cls = source.statements.find((s): s is ts.ClassDeclaration => ts.isClassDeclaration(s) && s.name?.text === 'Client')!;
    const publicAsync = cls.members
      .filter((m): m is ts.MethodDeclaration => ts.isMethodDeclaration(m))
      .filter((m) => !m.modifiers?.some((x) => x.kind === ts.SyntaxKind.PrivateKeyword || x.kind === ts.SyntaxKind.StaticKeyword))
      .filter((m) => m.modifiers?.some((x) => x.kind === ts.SyntaxKind.AsyncKeyword))
      .map((m) => (m.name as ts.Identifier).text);
    expect([...CLIENT_CALLS].sort()).toEqual(publicAsync.sort());
  });

  it('an ACL user without the commands: a PermissionError naming the refusal and where the rules are', async () => {
    await admin.acl('SETUSER', 'reader', 'on', '>reader-pw', '~*', '+ping', '+info', '+get', '+select', '+client');
    const c = client({ username: 'reader', password: 'reader-pw' });
    for (const call of [() => c.submit('f', 1), () => c.get('some-id'), () => c.stats()]) {
      const e = await call().catch((x: unknown) => x);
      expect(e).toBeInstanceOf(PermissionError);
      expect(e).toMatchObject({ code: 'ERR_PERMISSION', message: expect.stringMatching(/^Redis refused: NOPERM .*acl\/README\.md/) });
    }
  });

  it('a Redis at its maxmemory: a write is a RedisUnavailableError saying it is full', async () => {
    const c = client({});
    await c.stats();
    await admin.config('SET', 'maxmemory-policy', 'noeviction');
    await admin.config('SET', 'maxmemory', '1');
    try {
      const e = await c.submit('f', 1).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RedisUnavailableError);
      expect(e).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', message: expect.stringMatching(/^Redis refused the write: it is full \(OOM /) });
    } finally {
      await admin.config('SET', 'maxmemory', '0');
    }
  });

  it('a wrong password, or none where one is wanted: a RedisUnavailableError naming the server', async () => {
    await admin.acl('SETUSER', 'worker-x', 'on', '>right', '~*', '+@all');
    const wrong = await client({ username: 'worker-x', password: 'wrong' })
      .submit('f', 1)
      .catch((x: unknown) => x);
    expect(wrong).toBeInstanceOf(RedisUnavailableError);
    expect((wrong as Error).message).toMatch(/^Redis at redis:\/\/127\.0\.0\.1:\d+\S* refused the password: WRONGPASS/);
  });

  it('a wait whose reads Redis refuses (a wrong password, an ACL without the reads) ends at once with that refusal, not at its timeout', async () => {
    await admin.acl('SETUSER', 'worker-y', 'on', '>right', '~*', '&*', '+@all');
    await admin.acl('SETUSER', 'listener', 'on', '>listener-pw', '~*', '&*', '+ping', '+info', '+select', '+client', '+subscribe', '+unsubscribe');
    const id = await client({}).submit('f', 1);
    for (const [redis, type, message] of [
      [{ username: 'worker-y', password: 'wrong' }, RedisUnavailableError, /refused the password: WRONGPASS/],
      [{ username: 'listener', password: 'listener-pw' }, PermissionError, /^Redis refused: NOPERM/],
    ] as const) {
      const started = performance.now();
      const e = await client(redis)
        .wait(id, { timeout: 20_000 })
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(type);
      expect((e as Error).message).toMatch(message);
      // (well before the timeout, and before the first poll, 5 s on)
      expect(performance.now() - started).toBeLessThan(4000);
    }
  });
});
