/**
 * A task whose worker froze (SIGSTOP) as it ran is requeued by a monitor, and a stop then finds
 * it queued again: cancelled (control-stop-queued-again.test.ts). The frozen worker still holds
 * the attempt in its memory. Thawed (SIGCONT), its next heartbeat finds the lease gone and
 * aborts the function; its end is refused, the task stays ended `cancelled`, and no worker runs
 * it again.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { runningOnWorkerProcess, startQuickMonitor } from './helpers/queued-again.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a stop of a task requeued while its worker was frozen', () => {
  it('cancelled; the thawed worker aborts its copy and its end does not change the outcome', async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const { worker: frozen, id } = await runningOnWorkerProcess(o, c, cleanup, { ms: 4000 });
    frozen.proc.kill('SIGSTOP');
    cleanup.push(async () => void frozen.proc.kill('SIGCONT'));
    await startQuickMonitor(o, cleanup);
    await until(async () => (await c.get(id))?.state === 'QUEUED', 'the task requeued', 10_000);
    expect(await c.control(id, 'stop')).toBe('cancelled');
    frozen.proc.kill('SIGCONT');
    await frozen.waitFor(new RegExp(`^ABORTED ${id}`), 5000);
    // (past the end its function would have reached)
    await sleep(4500);
    expect(await c.get(id)).toMatchObject({ state: 'END', outcome: 'cancelled' });
    expect(frozen.lines.filter((l) => l.startsWith(`STARTED ${id}`))).toHaveLength(1);
  }, 30_000);
});
