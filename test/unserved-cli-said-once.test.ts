/**
 * The CLI's Client warns on stderr of a function no live worker serves (src/served-functions.ts).
 * `submit --wait` says it already, as it waits (src/cli/follow.ts explainWait): it was said twice.
 * A `submit --id` of the very same task as before, which has ended, queues nothing; the command
 * says so, and the Client's warning that "the task waits until one that does starts" contradicted
 * it (the CLI's own warning, before, was not said after such a submit).
 */
import { describe, expect, it } from 'vitest';
import { Worker, type LoggerLike } from '../src/index.js';
import type { RedisServer } from './helpers/redis-server.js';
import { runMain } from './helpers/cli.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => (server = s));
const quiet: LoggerLike = { debug() {}, info() {}, warn() {}, error() {} };

async function worker(prefix: string, fn: string): Promise<Worker> {
  const w = new Worker({ port: 0, redis: { ...server.options(), keyPrefix: prefix }, logger: quiet });
  w.addTaskFunction(fn, (t) => t.data);
  await w.start();
  cleanup.push(() => w.stop());
  return w;
}

describe('the CLI says once that no live worker serves a function', () => {
  it('submit --wait: in its wait only', async () => {
    const prefix = server.options().keyPrefix;
    await worker(prefix, 'resize');
    const r = await runMain(['submit', 'resise', '1', '--wait', '--wait-timeout', '800', '--key-prefix', prefix], { REDIS_URL: server.url });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.match(/no live worker serves function "resise"/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/waits, QUEUED: no live worker serves function "resise"/);
  });

  it('submit --id of a task that ended: nothing new submitted, and nothing said of a wait', async () => {
    const prefix = server.options().keyPrefix;
    const run = (...argv: string[]) => runMain([...argv, '--key-prefix', prefix], { REDIS_URL: server.url });
    const first = await worker(prefix, 'resize');
    expect(await run('submit', 'resize', '1', '--id', 'job-1', '--wait', '--wait-timeout', '5000')).toMatchObject({ code: 0 });
    await first.stop();
    await worker(prefix, 'report');
    const again = await run('submit', 'resize', '1', '--id', 'job-1');
    expect(again).toMatchObject({ code: 0, stdout: 'job-1\n' });
    expect(again.stderr).toBe('task-swarm: warning: task "job-1" was submitted before, the very same task (ended succeeded): nothing new submitted; its id follows\n');
  });
});
