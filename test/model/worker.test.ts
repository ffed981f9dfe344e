/**
 * Model-based test of the worker machine, one claim at a time (lane = concurrency): see
 * worker-model.ts. (The same model with two lanes is worker-lanes.test.ts.)
 */
import { workerModelTests } from './worker-model.js';

workerModelTests('one claim at a time');
