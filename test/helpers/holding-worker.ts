/**
 * What the tests of a claim's knowledge of new-task's right end share (test/plain-window.test.ts,
 * test/review-plain-receipts.test.ts): a worker of concurrency 1 that holds one task, entries in
 * the seed's form, and a connection to another database of the same Redis.
 */
import { Redis } from 'ioredis';
import { Worker } from '../../src/index.js';
import { quiet } from './order.js';

type Cleanup = (() => unknown)[];

export const pad = (i: number) => String(i).padStart(3, '0');

/** an entry of f in the seed's form, as `redis-cli LPUSH new-task` would push it */
export const plainEntry = (id: string, fields = '') => `{"id":"${id}","function":"f","data":"{}"${fields}}`;

/**
 * A worker of concurrency 1 for f that records its starts; `hold` (an id) runs until release()
 * is called, every other task returns at once.
 */
export async function holdingWorker(o: Record<string, unknown>, hold: string, cleanup: Cleanup) {
  const ids: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const w = new Worker({ port: 0, redis: o, logger: quiet, concurrency: 1 });
  w.addTaskFunction('f', async (t) => {
    ids.push(t.id);
    if (t.id === hold) await released;
  });
  cleanup.push(() => w.stop());
  await w.start();
  return { ids, release, w };
}

/** a connection to database `db` of the Redis `o` names, flushed and closed at cleanup */
export function otherDatabase(o: { host: string; port: number }, db: number, cleanup: Cleanup): Redis {
  const r = new Redis({ host: o.host, port: o.port, db });
  cleanup.push(async () => {
    await r.flushdb();
    r.disconnect();
  });
  return r;
}
