/**
 * Seed-style worker 1: listens for peer pings on 127.0.0.1:6001 and runs tasks of the function
 * `test` (see seed-worker.ts). Run it with
 *
 *   node --import tsx examples/seed/worker1.ts
 */
import { runSeedWorker } from './seed-worker.js';

await runSeedWorker('worker1', 6001);
