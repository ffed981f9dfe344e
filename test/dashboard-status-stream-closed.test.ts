/**
 * The dashboard pushes the swarm's status to each open page (`/api/stream`) once per
 * refreshInterval, from one read of Redis per tick shared by the pages. A dashboard runs for
 * weeks and is looked at now and then: once the last page has closed, nobody reads what the
 * tick reads, and the reads (a dozen commands and more per tick, every partition) stop until a
 * page opens again. They went on at every tick for as long as the process lived.
 */
import { request } from 'node:http';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createDashboard } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
let redis: Redis;
const cleanup = redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** open an event stream; resolves with what closes it once its first bytes came */
const openStream = (url: string) =>
  new Promise<{ close: () => void; events: () => number }>((resolve, reject) => {
    let events = 0;
    const req = request(url, (res) => {
      res.on('data', (chunk: Buffer) => (events += (chunk.toString().match(/event: status/g) ?? []).length));
      res.once('data', () => resolve({ close: () => req.destroy(), events: () => events }));
    });
    req.on('error', (e) => reject(e));
    req.end();
  });

/** commands Redis ran in `ms`, less the two INFO calls that count them */
async function commandsIn(ms: number): Promise<number> {
  const processed = async () => Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))![1]);
  const before = await processed();
  await sleep(ms);
  return (await processed()) - before - 1;
}

describe('the dashboard status stream', () => {
  it('reads Redis while a page is open, and no more once the last one has closed', async () => {
    const d = createDashboard({ redis: server.options(), refreshInterval: 100 });
    cleanup.push(() => d.close());
    const url = await d.listen(0);
    const pages = await Promise.all(Array.from({ length: 3 }, () => openStream(`${url}api/stream`)));
    // open: ticks read the status and every page gets it
    expect(await commandsIn(1000)).toBeGreaterThan(20);
    for (const p of pages) expect(p.events()).toBeGreaterThan(3);
    for (const p of pages) p.close();
    await sleep(300); // a tick under way when they closed ends
    // closed: nothing is read for nobody
    expect(await commandsIn(1000)).toBe(0);
    // a page opened again gets the status at once, then at every tick
    const again = await openStream(`${url}api/stream`);
    await sleep(500);
    expect(again.events()).toBeGreaterThan(2);
    again.close();
  }, 30_000);
});
