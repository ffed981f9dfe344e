/**
 * The dashboard's schedules table, drawn by the page's own script (its renderStatus, run in a vm
 * with a stand-in for the few DOM calls it makes) from the overview a real dashboard serves: each
 * schedule shows its function. The page read `function` of each schedule, a field the overview's
 * schedules (Client.schedules(): `fn`) do not have, and the column stayed empty for every one.
 */
import { createContext, runInContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { Client, createDashboard } from '../src/index.js';
import { DASHBOARD_PAGE } from '../src/dashboard/page.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

/** the page's script run against stand-in elements: its renderStatus, and the elements it drew */
function pageScript(): { renderStatus: (s: unknown) => void; html: (selector: string) => string } {
  const els = new Map<string, { innerHTML: string; textContent: string; value: string; dataset: object; classList: object; addEventListener(): void }>();
  const el = (sel: string) => {
    if (!els.has(sel)) els.set(sel, { innerHTML: '', textContent: '', value: '', dataset: {}, classList: { toggle() {}, add() {} }, addEventListener() {} });
    return els.get(sel)!;
  };
  const script = DASHBOARD_PAGE.slice(DASHBOARD_PAGE.indexOf('<script>') + '<script>'.length, DASHBOARD_PAGE.lastIndexOf('</script>'));
  const ctx = createContext({
    document: { querySelector: el, addEventListener() {} },
    sessionStorage: { getItem: () => null, setItem() {} },
    location: { hash: '', pathname: '/', search: '', host: 'dashboard' },
    window: { history: { replaceState() {} } },
    URLSearchParams,
    // (its first reads never answer: only what the test renders is drawn)
    fetch: () => new Promise(() => {}),
    EventSource: class {
      addEventListener() {}
    },
  });
  runInContext(script, ctx);
  return { renderStatus: runInContext('renderStatus', ctx) as (s: unknown) => void, html: (sel) => el(sel).innerHTML };
}

describe('the dashboard lists the schedules', () => {
  it('each with its name, its function and its next tick', async () => {
    const redis = server.options();
    const c = new Client({ redis });
    cleanup.push(() => c.close());
    const { next } = await c.schedule('nightly', { cron: '0 3 * * *', tz: 'Europe/Berlin' }, 'report', { kind: 'daily' });
    await c.schedule('poll', { every: 60_000 }, 'ping');
    const d = createDashboard({ redis });
    cleanup.push(() => d.close());
    const url = await d.listen(0);
    const overview = (await (await fetch(new URL('api/overview', url))).json()) as { schedules: unknown[] };
    expect(overview.schedules).toHaveLength(2);

    const page = pageScript();
    page.renderStatus(overview);
    const rows = page.html('#schedules tbody').split('</tr>').filter(Boolean);
    expect(rows).toEqual([`<tr><td>schedule nightly</td><td>report</td><td>next ${new Date(next!).toISOString()}</td>`, expect.stringMatching(/^<tr><td>schedule poll<\/td><td>ping<\/td><td>next \S+<\/td>$/)]);
  });
});
