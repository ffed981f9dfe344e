/** `npm run demo`, the README's first command, end to end: it must finish green, on its own Redis. */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../examples/demo.ts', import.meta.url));

describe('the demo', () => {
  it('runs 3 workers and a monitor, survives the SIGKILL of one, stops a task through the dashboard, and reports the same facts from metrics and status', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_DASHBOARD_PORT: '0' };
    delete env.REDIS_URL; // its own redis-server, as on a fresh machine
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', DEMO], { env, timeout: 90_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      ),
    );
    expect(r.out).toMatch(/killed: w\d with SIGKILL/);
    expect(r.out).toMatch(/requeued by the monitor: [1-9]/);
    expect(r.out).toMatch(/tasks succeeded: 24\/24/);
    // the dashboard's link carries its token; the long task is stopped through the dashboard's API
    expect(r.out).toMatch(/dashboard: http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{32}/);
    expect(r.out).toMatch(/stop stop-me through the dashboard: POST \S+ \{"message":"stop"\} -> 200/);
    expect(r.out).toMatch(/stop-me: ended stopped/);
    // the monitor's metrics count the requeues, and say what status says of the queue and the dead letters
    expect(r.out).toMatch(/task_swarm_monitor_tasks_requeued_total [1-9]/);
    expect(r.out).toMatch(/task_swarm_worker_tasks_ended_total, w\d \+ w\d: succeeded 2[0-4], stopped 1/);
    const metric = (name: string) => Number(new RegExp(`^  ${name} (\\d+)$`, 'm').exec(r.out)?.[1]);
    const status = /^ {2}incoming (\d+) {2}claimed \d+ {2}workers \d+ {2}dead (\d+)/m.exec(r.out);
    expect(status, 'the status line').not.toBeNull();
    expect([Number(status![1]), Number(status![2])]).toEqual([metric('task_swarm_queue_entries'), metric('task_swarm_dead_letters')]);
    expect(r.out).toMatch(/result: every task succeeded, none lost, stop-me stopped/);
    expect(r.code).toBe(0);
  }, 120_000);

  it('stops on a Ctrl-C while its workers start, without starting them again, and leaves no process', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_DASHBOARD_PORT: '0' };
    delete env.REDIS_URL;
    // its own process group, as a terminal's foreground job: Ctrl-C reaches the workers too
    const child = spawn(process.execPath, ['--import', 'tsx', DEMO], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const deadline = Date.now() + 30_000;
    while (!/^workers: /m.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(out).toMatch(/^workers: /m);
    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(130);
    expect(out).not.toMatch(/starting w\d again/);
    const redisPid = Number(/private redis-server, pid (\d+)/.exec(out)?.[1]);
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(redisPid)).toBe(false);
  }, 60_000);
});
