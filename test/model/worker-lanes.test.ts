/**
 * Model-based test of the worker machine with two lanes (lane < concurrency: two claims on their
 * way at once): see worker-model.ts. (The same model one claim at a time is worker.test.ts.)
 */
import { workerModelTests } from './worker-model.js';

workerModelTests('two lanes');
