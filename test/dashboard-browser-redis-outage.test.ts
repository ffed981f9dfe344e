/**
 * The dashboard page in a real browser (Chromium, playwright-core) through a Redis outage: while
 * Redis is down the page says so (`status: cannot reach Redis at <server>: ...`) and marks the
 * counts it shows as the last ones read, not the current ones; once Redis answers again the
 * message goes and the counts are current again. The message once stayed on the page for good
 * after Redis came back, saying Redis could not be reached while every count updated under it.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Client, createDashboard, type Dashboard } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const CHROMIUM = '/usr/bin/chromium';

let server: RedisServer;
let client: Client;
let dashboard: Dashboard;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  server = await startRedis();
  const redis = server.options();
  client = new Client({ redis });
  dashboard = createDashboard({ redis, refreshInterval: 200 });
  const url = await dashboard.listen(0);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  page = await browser.newPage();
  await page.goto(url);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await client?.close();
  await server?.stop();
});

describe('dashboard page through a Redis outage', () => {
  it('says Redis cannot be reached while it is down, marks the counts as old, and clears both once it answers', async () => {
    await client.submit('outage-fn', { n: 1 });
    // (incoming: no worker routes it)
    await page.locator('#stat-queued', { hasText: '1' }).waitFor();
    await page.locator('#stats:not(.stale)').waitFor();
    expect(await page.textContent('#msg')).toBe('');

    await server.kill();
    // (within a few seconds, not the client's 10 s of patience: the page showed the last counts as current meanwhile)
    await page.locator('#msg', { hasText: /^status: waiting for Redis at redis:\/\/127\.0\.0\.1:\d+: / }).waitFor({ timeout: 5_000 });
    await page.locator('#stats.stale').waitFor();
    await page.locator('#msg', { hasText: /^status: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: / }).waitFor({ timeout: 20_000 });
    await page.locator('#stats.stale').waitFor();

    await server.start();
    await page.locator('#stats:not(.stale)').waitFor({ timeout: 20_000 });
    expect(await page.textContent('#msg')).toBe('');
  }, 60_000);
});
