/**
 * `task-swarm dashboard` with a token too short names where that token came from: --token, the
 * variable or --token-file, whichever the user gave. A short --token was said to come "from
 * TASK_SWARM_DASHBOARD_TOKEN or --token-file", neither of which the user had set.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneLine, runMain } from './helpers/cli.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
redisPerFile((s) => {
  server = s;
});
const dir = mkdtempSync(join(tmpdir(), 'task-swarm-token-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dashboard with a token too short', () => {
  it('given by --token: the line names --token, status 2', async () => {
    const r = await runMain(['dashboard', '--port', '0', '--token', 'short'], { REDIS_URL: server.url });
    expect(r.code).toBe(2);
    // (beside the warning that --token shows in ps)
    expect(r.stderr.trim().split('\n').at(-1)).toBe('task-swarm: the dashboard token from --token must be at least 8 characters, got 5');
  });

  it('given by the variable: the line names it, status 2', async () => {
    const r = await runMain(['dashboard', '--port', '0'], { REDIS_URL: server.url, TASK_SWARM_DASHBOARD_TOKEN: 'short' });
    expectOneLine(r, 2, /^task-swarm: the dashboard token from env TASK_SWARM_DASHBOARD_TOKEN must be at least 8 characters, got 5\n$/);
  });

  it('given by --token-file: the line names --token-file, status 2', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'short\n');
    const r = await runMain(['dashboard', '--port', '0', '--token-file', file], { REDIS_URL: server.url });
    expectOneLine(r, 2, /^task-swarm: the dashboard token from --token-file must be at least 8 characters, got 5\n$/);
  });
});
