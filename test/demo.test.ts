/** `npm run demo`, the README's first command, end to end: it must finish green, on its own Redis. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const DEMO = fileURLToPath(new URL('../examples/demo.ts', import.meta.url));

describe('the demo', () => {
  it('runs 3 workers and a monitor, survives the SIGKILL of one, and reports every task done', async () => {
    const env = { ...process.env };
    delete env.REDIS_URL; // its own redis-server, as on a fresh machine
    const r = await new Promise<{ code: number; out: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', DEMO], { env, timeout: 90_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
      ),
    );
    expect(r.out).toMatch(/killed: w\d with SIGKILL/);
    expect(r.out).toMatch(/requeued by the monitor: [1-9]/);
    expect(r.out).toMatch(/tasks succeeded: 24\/24/);
    expect(r.out).toMatch(/result: every task succeeded, none lost/);
    expect(r.code).toBe(0);
  }, 120_000);
});
