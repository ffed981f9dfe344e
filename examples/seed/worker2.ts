/**
 * Seed-style worker 2: listens for peer pings on 127.0.0.1:6002 and runs tasks of the function
 * `test` (see seed-worker.ts). Run it with
 *
 *   node --import tsx examples/seed/worker2.ts
 */
import { runSeedWorker } from './seed-worker.js';

await runSeedWorker('worker2', 6002);
