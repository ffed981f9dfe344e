/**
 * No starvation (issue 9): a task of priority p is placed as if queued p seconds earlier
 * (docs/queue-layout.md), so under a sustained flood of priority-p tasks, arriving faster than
 * they are served (a plain priority queue would never start a priority-0 task then), a priority-0
 * task is overtaken only by the flood tasks queued less than p seconds after it: it starts after
 * what was waiting when it came plus what the flood added in the next p seconds, and no later.
 */
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { recorder, recordingWorker } from './helpers/order.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

const P = 2;
/** slack for routing (a task is placed at the claim after its submit: one run later at most) and timers */
const SLACK_MS = 300;

describe('a priority-0 task under a sustained flood of priority-2 tasks', () => {
  it(`starts once the flood queued before it and in the ${P} s after it has run, while later flood tasks still wait`, async () => {
    const o = server.options();
    const c = new Client({ redis: o });
    cleanup.push(() => c.close());
    const rec = recorder();
    // one slot, 20 ms per task: served at most ~50/s
    const w = recordingWorker(o, 'f', rec, { concurrency: 1, runMs: 20 });
    cleanup.push(() => w.stop());
    await w.start();

    // the flood: 2 tasks every 20 ms (~100/s), until the priority-0 task has started and a bit
    const submitted = new Map<string, number>();
    let n = 0;
    let flooding = true;
    const flood = (async () => {
      while (flooding) {
        for (let k = 0; k < 2; k++) {
          const id = `p-${n++}`;
          submitted.set(id, Date.now());
          await c.submit('f', null, { id, priority: P });
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    cleanup.push(async () => {
      flooding = false;
      await flood;
    });

    await until(() => submitted.size >= 100, 'a backlog of flood tasks');
    const tX = Date.now();
    const waitingAtX = [...submitted.keys()].filter((id) => !rec.ids().includes(id));
    await c.submit('f', null, { id: 'x' });
    await until(() => rec.ids().includes('x'), 'the priority-0 task started', 20_000, 5);
    const startX = rec.starts.find((s) => s.id === 'x')!.at;
    await new Promise((r) => setTimeout(r, 500));
    flooding = false;
    await flood;

    const ids = rec.ids();
    const posX = ids.indexOf('x');
    const startedBetween = rec.starts.slice(0, posX).filter((s) => s.at >= tX);
    const floodWithinP = [...submitted].filter(([id, at]) => at >= tX && at <= tX + P * 1000 + SLACK_MS && !waitingAtX.includes(id)).length;
    const stillWaiting = [...submitted].filter(([id, at]) => at < startX && (!ids.includes(id) || ids.indexOf(id) > posX)).length;
    console.log(
      `aging: x waited ${startX - tX} ms; ${waitingAtX.length} flood tasks were waiting when it came, ${startedBetween.length} started before it, ` +
        `${floodWithinP} came within ${P} s after it; ${stillWaiting} flood tasks submitted before its start started after it; flood ${n} tasks`,
    );

    // overtaken only by flood tasks submitted before it or less than P s after it
    for (const id of ids.slice(0, posX)) expect(submitted.get(id)! <= tX + P * 1000 + SLACK_MS, `${id} overtook x`).toBe(true);
    expect(startedBetween.length).toBeLessThanOrEqual(waitingAtX.length + floodWithinP);
    // ... and it did not wait for the queue to empty: the flood outran the worker, so a plain
    // priority queue would still hold it back behind these
    expect(stillWaiting).toBeGreaterThan(20);
  });
});
