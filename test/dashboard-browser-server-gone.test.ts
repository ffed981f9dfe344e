/**
 * The dashboard page in a real browser (Chromium, playwright-core) when the dashboard process
 * itself goes away (stopped, restarted, its host rebooted): the page says it has lost the
 * dashboard and marks the counts it shows as the last ones read; once a dashboard answers at
 * that address again, the line goes and the counts are current. The page once went on showing
 * its last counts as current, with nothing said, for as long as it stayed open.
 */
import { existsSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { createDashboard, type Dashboard } from '../src/index.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const CHROMIUM = '/usr/bin/chromium';

let server: RedisServer;
let browser: Browser;
const dashboards: Dashboard[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
  server = await startRedis();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}, 60_000);
afterEach(async () => {
  for (const d of dashboards.splice(0)) await d.close();
});
afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('dashboard page when the dashboard goes away', () => {
  it('says the dashboard is lost, marks the counts as old, and clears both once one answers there again', async () => {
    const redis = server.options();
    const first = createDashboard({ redis, refreshInterval: 200 });
    dashboards.push(first);
    const url = await first.listen(0);
    const port = Number(new URL(url).port);
    const page = await browser.newPage();
    await page.goto(url);
    await page.locator('#stat-workers', { hasText: '0' }).waitFor();
    expect(await page.textContent('#msg')).toBe('');

    await first.close();
    await page.locator('#msg', { hasText: /^lost the dashboard at 127\.0\.0\.1:\d+: the counts shown are the last read; reconnecting$/ }).waitFor({ timeout: 10_000 });
    await page.locator('#stats.stale').waitFor();

    const second = createDashboard({ redis, refreshInterval: 200 });
    dashboards.push(second);
    await second.listen(port);
    await page.locator('#stats:not(.stale)').waitFor({ timeout: 20_000 });
    expect(await page.textContent('#msg')).toBe('');
  }, 60_000);
});
