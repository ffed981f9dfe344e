/**
 * The roles that may not load the library (producer, dashboard) may not list functions either:
 * ACL rules grant a subcommand whole, its arguments included, so `function|list` would also
 * answer WITHCODE, the code of every library on the server, another application's among them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { aclRule } from '../src/acl.js';
import { resolveRedisConfig } from '../src/config.js';
import { startRedis } from './helpers/redis-server.js';

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

describe("the producer's and dashboard's FUNCTION LIST", () => {
  it.each(['producer', 'dashboard'] as const)('a %s cannot read the code of another library on the server', async (role) => {
    const server = await startRedis();
    cleanup.push(() => server.stop());
    const admin = server.client();
    await admin.function('LOAD', "#!lua name=otherapp\nlocal secret = 'other app code'\nredis.register_function('otherapp_f', function() return secret end)");
    const rule = aclRule(role, resolveRedisConfig(server.options()));
    await admin.call('ACL', 'SETUSER', 'u', ...rule.split(' '), 'nopass');
    const u = new Redis({ ...server.options(), username: 'u', password: 'x' });
    cleanup.push(() => u.disconnect());
    await expect(u.function('LIST', 'WITHCODE')).rejects.toThrow(/NOPERM/);
  });
});
