/**
 * Model-based test of the worker machine whose lanes come and go with the swarm's size (loneLane:
 * two claims on their way only while SWARM_SIZE says it is the swarm's only worker): see
 * worker-model.ts.
 */
import { workerModelTests } from './worker-model.js';

workerModelTests('lanes while alone');
