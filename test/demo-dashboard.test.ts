/**
 * What a new user does with `npm run demo -- --keep`: opens the link it prints (the token rides
 * in it), watches a worker die in the page, stops the long task from the page, scrapes a
 * worker's /metrics, and stops it all with Ctrl-C, which leaves no process behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';

const DEMO = fileURLToPath(new URL('../examples/demo.ts', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';

let demo: ChildProcess | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the demo kept up for a person at the dashboard', () => {
  it('serves the page its link opens, with the token; a stop clicked there ends stop-me; /metrics answers; Ctrl-C cleans up', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_DASHBOARD_PORT: '0' };
    delete env.REDIS_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', DEMO, '--keep'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    demo = child;
    const lines: string[] = [];
    const waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
    const seen = (re: RegExp, ms = 30_000) =>
      new Promise<RegExpMatchArray>((resolve, reject) => {
        const hit = lines.map((l) => l.match(re)).find(Boolean);
        if (hit) return resolve(hit);
        const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; output:\n${lines.join('\n')}`)), ms);
        waiters.push({ re, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        for (const w of [...waiters]) {
          const m = line.match(w.re);
          if (m) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(m);
          }
        }
      });
    }
    const redisPid = Number((await seen(/private redis-server, pid (\d+)/))[1]);
    const link = (await seen(/dashboard: (http:\/\/\S+#token=[0-9a-f]+)/))[1]!;
    const metrics = (await seen(/metrics: w1 (http:\/\/\S+\/metrics)/))[1]!;
    await seen(/submitted stop-me/);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
    await page.goto(link);
    // the page took the token from the link, and took it out of the address bar
    expect(await page.inputValue('#token')).toBe(link.split('#token=')[1]);
    expect(page.url()).not.toContain('token');
    // the demo's victim turns dead in the page
    await page.locator('tr[data-worker] td.dead').waitFor({ timeout: 20_000 });

    // stop-me, opened and stopped as a user would (no token typed: the link's)
    await page.fill('#search', 'stop-me');
    await page.click('#go');
    await page.locator('#task-id', { hasText: 'stop-me' }).waitFor();
    await expect.poll(() => page.locator('#task-info .f-state').textContent(), { timeout: 15_000 }).toBe('RUNNING');
    await page.click('#stop');
    await expect.poll(() => page.locator('#task-info .f-state').textContent(), { timeout: 15_000 }).toBe('END (stopped)');
    await seen(/stop-me ended stopped/);

    const scraped = await (await fetch(metrics)).text();
    expect(scraped).toMatch(/^task_swarm_worker_tasks_claimed_total\{function="render"\} \d+/m);

    await seen(/result: every task succeeded, none lost, stop-me stopped/, 60_000);
    await seen(/everything stays up/);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(alive(redisPid)).toBe(false);
  }, 120_000);
});
