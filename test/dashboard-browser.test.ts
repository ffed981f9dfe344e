/**
 * The dashboard in a real browser (Chromium, driven by playwright-core) against a real swarm:
 * two worker processes and a monitor process on a private Redis. The page shows a task running,
 * its events arriving, its last event in the task list and its machine's live state in the task
 * statechart; a worker SIGKILLed turns dead and its task comes back on the other; a
 * stop clicked in the page ends a task; a mutation without the token, or from another origin, or
 * in read-only mode, is refused. The README's screenshots (docs/img/) are taken here, with
 * TASK_SWARM_SCREENSHOTS=1 (`TASK_SWARM_SCREENSHOTS=1 npx vitest run test/dashboard-browser.test.ts`).
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Client, createDashboard, type Dashboard } from '../src/index.js';
import { startRedis, until, type RedisServer } from './helpers/redis-server.js';
import { spawnMonitor, spawnWorker, type WorkerProcess } from './helpers/processes.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'test-token-0123456789';
// The README's screenshots are written there only when asked (TASK_SWARM_SCREENSHOTS=1): a test
// run left the tracked images changed in every checkout it ran in. Otherwise a scratch folder.
const IMG = process.env.TASK_SWARM_SCREENSHOTS === '1' ? new URL('../docs/img/', import.meta.url).pathname : `${mkdtempSync(join(tmpdir(), 'task-swarm-shots-'))}/`;

let server: RedisServer;
let redis: Record<string, unknown>;
let client: Client;
let dashboard: Dashboard;
let url: string;
let browser: Browser;
let page: Page;
const workers: WorkerProcess[] = [];
let monitor: WorkerProcess;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  server = await startRedis();
  redis = server.options();
  monitor = await spawnMonitor({ redis, taskTimeout: 1500, checkTaskInterval: 200 });
  for (let i = 0; i < 2; i++) workers.push(await spawnWorker({ port: 0, redis, heartbeatInterval: 200 }));
  client = new Client({ redis });
  dashboard = createDashboard({ redis, token: TOKEN, refreshInterval: 300 });
  url = await dashboard.listen(0);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  await page.goto(url);
  mkdirSync(IMG, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await client?.close();
  for (const w of workers) await w.kill('SIGKILL');
  await monitor?.kill('SIGKILL');
  await server?.stop();
});

/** open task `id` in the page, as a user would: its id in the search box */
async function openTask(id: string): Promise<void> {
  await page.fill('#search', id);
  await page.click('#go');
  await page.locator('#task-id', { hasText: id }).waitFor();
}

const field = (name: string) => page.locator(`#task-info .f-${name}`);

describe('dashboard in a browser', () => {
  it('shows the workers with their machine states, a submitted task running and its events arriving', async () => {
    for (const w of workers) await page.locator(`tr[data-worker="${w.address}"] td.alive`).waitFor();
    // the worker statechart, drawn from the machine, has the workers' live state highlighted
    await page.locator('#chart-worker .st.on[data-path="connected"]').waitFor();
    // the monitor process sweeps: listed, and highlighted in its statechart's active state
    await page.locator('#monitors td.active').waitFor();
    await page.locator('#chart-monitor .st.on[data-path="active"]').waitFor();
    // the swarm's counts, labelled as task-swarm status labels them: its workers (another test's
    // worker, SIGKILLed, stays listed until the monitor prunes it)
    const stats = new RegExp(`^incoming \\d+ +claimed \\d+ +workers ${workers.length} +dead \\d+ +ended \\(manual_end\\) \\d+`);
    await expect.poll(() => page.locator('#stats').textContent(), { timeout: 15_000 }).toMatch(stats);
    const id = await client.submit('sleep', { ms: 4000 });
    await openTask(id);
    await expect.poll(() => field('state').textContent(), { timeout: 10_000 }).toBe('RUNNING');
    // the task appears in the running list, and under its worker
    await page.locator(`#tasks tr[data-task="${id}"]`).waitFor();
    await page.locator(`#workers a[data-task="${id}"]`).waitFor();
    await page.locator('#events .event', { hasText: 'progress' }).first().waitFor({ timeout: 10_000 });
    await page.locator('#chart-task .st.on[data-path="RUNNING"]').waitFor();
    // its worker publishes the task machine's live state while the page watches it
    await page.locator('#chart-task .st.on[data-path="RUNNING.working"]').waitFor({ timeout: 10_000 });
    await page.locator('#machine-state', { hasText: 'live: RUNNING.working' }).waitFor();
    // the task list has its last event
    await page.locator(`#tasks tr[data-task="${id}"] td.last-event`, { hasText: 'progress' }).waitFor({ timeout: 10_000 });
    await page.screenshot({ path: `${IMG}dashboard-running.png`, fullPage: true });
    await expect.poll(() => field('state').textContent(), { timeout: 10_000 }).toBe('END (succeeded)');
    expect(await page.locator('#events .event').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining(' end ')]));
  }, 60_000);

  it('a worker SIGKILLed turns dead, and its task comes back on the other', async () => {
    const id = await client.submit('sleep', { ms: 8000 });
    const first = await until(async () => (await client.get(id))?.worker, `${id} to be claimed`);
    const victim = workers.find((w) => w.address === first)!;
    const other = workers.find((w) => w !== victim)!;
    await openTask(id);
    await expect.poll(() => field('worker').textContent(), { timeout: 10_000 }).toBe(first);
    await victim.kill('SIGKILL');
    workers.splice(workers.indexOf(victim), 1);
    await page.locator(`tr[data-worker="${victim.address}"] td.dead`).waitFor({ timeout: 15_000 });
    await expect.poll(() => field('worker').textContent(), { timeout: 15_000 }).toBe(other.address);
    await expect.poll(() => field('state').textContent(), { timeout: 10_000 }).toBe('RUNNING');
    // its first attempt is in the history, as died
    await page.locator('#task-info td', { hasText: 'died' }).waitFor();
    // the workers table and the task list say so too
    await page.locator(`tr[data-worker="${other.address}"] a[data-task="${id}"]`).waitFor();
    await page.locator(`#tasks tr[data-task="${id}"]`, { hasText: other.address }).waitFor();
    await page.screenshot({ path: `${IMG}dashboard-worker-dead.png`, fullPage: true });
    // pruned by the monitor (silent 2 taskTimeouts), its state record with it: the hash stays bounded
    await page.locator(`tr[data-worker="${victim.address}"]`).waitFor({ state: 'detached', timeout: 15_000 });
    expect(await server.client().hexists(`${redis.keyPrefix as string}workers:states`, victim.address)).toBe(0);
  }, 60_000);

  it('a worker stopped cleanly leaves the page and takes its state record with it', async () => {
    const extra = await spawnWorker({ port: 0, redis, heartbeatInterval: 200 });
    await page.locator(`tr[data-worker="${extra.address}"] td.alive`).waitFor();
    expect(await server.client().hexists(`${redis.keyPrefix as string}workers:states`, extra.address)).toBe(1);
    await extra.kill('SIGTERM');
    await page.locator(`tr[data-worker="${extra.address}"]`).waitFor({ state: 'detached', timeout: 10_000 });
    expect(await server.client().hexists(`${redis.keyPrefix as string}workers:states`, extra.address)).toBe(0);
  }, 60_000);

  it('a stop clicked in the page (with the token) ends a running task', async () => {
    const id = await client.submit('sleep', { ms: 30_000 });
    await openTask(id);
    await expect.poll(() => field('state').textContent(), { timeout: 10_000 }).toBe('RUNNING');
    await page.fill('#token', TOKEN);
    await page.click('#stop');
    await expect.poll(() => field('state').textContent(), { timeout: 10_000 }).toBe('END (stopped)');
    expect((await client.get(id))?.outcome).toBe('stopped');
    // a stop that finds the task not running says what it did instead
    await page.click('#stop');
    await expect.poll(() => page.locator('#msg').textContent(), { timeout: 10_000 }).toBe('it had ended: nothing done');
  }, 60_000);

  it("the task statechart follows the task machine's live state: working, stopping once stopped, then the end", async () => {
    // a function slow to give in once stopped (it ignores its signal for 3 s): stopping lasts
    const slow = await spawnWorker({ port: 0, redis, heartbeatInterval: 200 }, [], { stubborn: {} });
    try {
      const id = await client.submit('stubborn', { ms: 3000 });
      await openTask(id);
      await page.locator('#chart-task .st.on[data-path="RUNNING.working"]').waitFor({ timeout: 10_000 });
      await page.fill('#token', TOKEN);
      await page.click('#stop');
      await page.locator('#chart-task .st.on[data-path="RUNNING.stopping"]').waitFor({ timeout: 10_000 });
      expect(await page.locator('#chart-task .st.on[data-path="RUNNING.working"]').count()).toBe(0);
      await page.locator('#chart-task .st.on[data-path="END"]').waitFor({ timeout: 10_000 });
      expect(await page.locator('#chart-task .st.on[data-path^="RUNNING"]').count()).toBe(0);
      await expect.poll(() => field('state').textContent(), { timeout: 10_000 }).toBe('END (stopped)');
    } finally {
      await slow.kill('SIGKILL');
    }
  }, 60_000);

  it('a mutation without the token is refused in the page and changes nothing', async () => {
    const id = await client.submit('sleep', { ms: 30_000 });
    await openTask(id);
    await expect.poll(() => field('state').textContent(), { timeout: 10_000 }).toBe('RUNNING');
    await page.fill('#token', 'not-the-token');
    await page.click('#cancel');
    await page.locator('#msg', { hasText: '401' }).waitFor();
    await new Promise((r) => setTimeout(r, 500));
    expect((await client.get(id))?.state).toBe('RUNNING');
    await client.cancel(id);
  }, 60_000);

  it('limits read in words, and the page asks for no icon it lacks', async () => {
    const missing: string[] = [];
    page.on('response', (r) => void (r.status() === 404 && missing.push(r.url())));
    await client.setLimit({ group: 'g-words' }, { concurrency: 2, rate: { max: 5, per: 1000 } });
    try {
      await page.reload();
      const row = page.locator('#limits tr', { hasText: 'group g-words' });
      await expect.poll(() => row.locator('td.limit').textContent(), { timeout: 10_000 }).toBe('at most 2 at once, at most 5 starts per 1000 ms');
      expect(missing).toEqual([]);
    } finally {
      await client.setLimit({ group: 'g-words' }, null);
    }
  }, 60_000);

  it("schedules are listed with their function and next tick (the page read a field the overview's schedules do not have: the function column was empty)", async () => {
    const { next } = await client.schedule('nightly-report', { cron: '0 3 * * *' }, 'report', null);
    try {
      await page.reload();
      const row = page.locator('#schedules tr', { hasText: 'schedule nightly-report' });
      await expect.poll(() => row.locator('td').allTextContents(), { timeout: 10_000 }).toEqual(['schedule nightly-report', 'report', `next ${new Date(next!).toISOString()}`]);
    } finally {
      await client.unschedule('nightly-report');
    }
  }, 60_000);

  it('dead letters are listed, and purged or retried from the page with the token', async () => {
    const q = server.client();
    await q.lpush(`${redis.keyPrefix as string}new-task`, 'not json', '{"id":"dl-no-function"}');
    const letters = await until(async () => {
      const l = await client.deadLetters();
      return l.length >= 2 ? l : undefined;
    }, 'two dead letters');
    const junk = letters.find((l) => l.reason === 'bad_json')!;
    const noFn = letters.find((l) => l.reason === 'missing_function')!;
    await page.fill('#token', TOKEN);
    await page.locator(`#dead tr`, { hasText: 'bad_json' }).waitFor();
    await page.click(`button[data-purge="${junk.key}"]`);
    await page.locator(`button[data-purge="${junk.key}"]`).waitFor({ state: 'detached' });
    expect(await client.deadLetter(junk.key)).toBeNull();
    // an entry without a function cannot pass as it stands: its retry is refused, with why
    await page.click(`button[data-retry="${noFn.key}"]`);
    await expect.poll(() => page.locator('#msg').textContent(), { timeout: 10_000 }).toMatch(new RegExp(`dead letter ${noFn.key} was parked for missing_function`));
    expect(await client.deadLetter(noFn.key)).not.toBeNull();
    await page.click(`button[data-purge="${noFn.key}"]`);
    await page.locator(`button[data-purge="${noFn.key}"]`).waitFor({ state: 'detached' });
    // a duplicate of a running task is refused while that task is there (queued again, it would
    // only be parked anew under a new key): its retry says why, the letter kept
    const held = await client.submit('sleep', { ms: 30_000 });
    await until(async () => (await client.get(held))?.state === 'RUNNING', 'the holder running');
    await q.lpush(`${redis.keyPrefix as string}new-task`, JSON.stringify({ id: held, function: 'sleep' }));
    const dup = await until(async () => (await client.deadLetters()).find((l) => l.reason === 'duplicate'), 'a duplicate parked');
    await page.locator(`button[data-retry="${dup.key}"]`).waitFor();
    await page.click(`button[data-retry="${dup.key}"]`);
    await expect.poll(() => page.locator('#msg').textContent(), { timeout: 10_000 }).toMatch(new RegExp(`dead letter ${dup.key} was parked for duplicate`));
    expect(await client.deadLetter(dup.key)).not.toBeNull();
    await page.click(`button[data-purge="${dup.key}"]`);
    await page.locator(`button[data-purge="${dup.key}"]`).waitFor({ state: 'detached' });
    await client.cancel(held);
  }, 60_000);

  it("mounted in an app under a path of its own, the page works there (its requests are relative)", async () => {
    const mounted = createDashboard({ redis, token: TOKEN, refreshInterval: 300 });
    // an app's router, reduced: /ops/... goes to the dashboard with the mount path taken off, as Express's app.use does
    const app = createServer((req, res) => {
      if (!req.url?.startsWith('/ops/')) return void res.writeHead(404).end('app');
      req.url = req.url.slice('/ops'.length);
      mounted.handler(req, res);
    });
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    const other = await browser.newPage();
    try {
      await other.goto(`http://127.0.0.1:${(app.address() as AddressInfo).port}/ops/`);
      await other.locator(`tr[data-worker="${workers[0]!.address}"] td.alive`).waitFor();
      await other.locator('#chart-worker .st.on').first().waitFor();
    } finally {
      await other.close();
      app.closeAllConnections();
      await new Promise((r) => app.close(r));
      await mounted.close();
    }
  }, 60_000);

  it('POSTs without the token, from another origin, without the custom header, or read-only are refused', async () => {
    const id = await client.submit('sleep', { ms: 30_000 });
    await until(async () => (await client.get(id))?.state === 'RUNNING', `${id} to run`);
    const post = (headers: Record<string, string>, base = url) => fetch(`${base}api/task/${id}/cancel`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}' });
    const good = { 'x-task-swarm': '1', authorization: `Bearer ${TOKEN}` };
    expect((await post({ 'x-task-swarm': '1' })).status).toBe(401);
    expect((await post({ 'x-task-swarm': '1', authorization: 'Bearer wrong-token-wrong' })).status).toBe(401);
    expect((await post({ authorization: `Bearer ${TOKEN}` })).status).toBe(403);
    expect((await post({ ...good, origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ ...good, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // a page on another origin, in the browser: its fetch is refused (no CORS is answered, the origin is checked)
    const ro = createDashboard({ redis, token: TOKEN, readOnly: true });
    const roUrl = await ro.listen(0);
    try {
      const r = await post(good, roUrl);
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: string }).error).toMatch(/read-only/);
    } finally {
      await ro.close();
    }
    expect((await client.get(id))?.state).toBe('RUNNING');
    const ok = await post(good);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ result: 'stopping' });
  }, 60_000);
});
