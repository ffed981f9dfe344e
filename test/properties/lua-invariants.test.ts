/**
 * Property-based tests of the Lua scripts' invariants under random interleavings of submit,
 * claim, heartbeat (renew + re-assert), finish (single and batched), hand-back, requeue and reap,
 * on a private redis-server. Every script is atomic, so sequences of whole script calls cover
 * every interleaving concurrent workers and monitors can produce. See ./harness.ts for the
 * model, the reference check of each script and the invariants checked after every operation:
 *
 * - no task lost or doubled: every entry ever pushed is in exactly one place (queued, RUNNING,
 *   ended, or parked at claim in the dead-letter list);
 * - at most one valid lease per task: a RUNNING task's lease is its latest claim's, held by one
 *   worker; finish/renew/hand-back with any other lease return the fenced answer and change
 *   nothing;
 * - an ended task takes no writes (reap only moves it to end-task or sets its TTL);
 * - the lease index holds exactly the RUNNING tasks, `tasks` holds every RUNNING task (and
 *   besides them only ended ones awaiting cleanup), no stale entry survives a full requeue pass;
 * - attempt only grows, except by one on a hand-back; claims grows by one per claim; a claim is
 *   requeued at most once; requeue at maxAttempts parks (END failed ERR_MAX_ATTEMPTS + one
 *   dead letter); requeues are held once per swarm-wide silence.
 *
 * Each run uses its own key prefix. fast-check prints the seed and the shrunk sequence on
 * failure; the error also lists the operations run with what each returned.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { RedisServer } from '../helpers/redis-server.js';
import { redisPerFile } from '../helpers/suite.js';
import { outageSequenceArb, runSequence, sequenceArb, staleHolderSequenceArb, type Op, type SimConfig } from './harness.js';

let server: RedisServer;
let redis: Redis;

redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const TASK_TIMEOUT = 10_000;
const maxAttempts = fc.integer({ min: 1, max: 3 });

function property(ops: fc.Arbitrary<Op[]>, cfg: Omit<SimConfig, 'maxAttempts'>) {
  return fc.asyncProperty(maxAttempts, ops, async (max, seq) => {
    await runSequence(redis, server.options().keyPrefix, { ...cfg, maxAttempts: max }, seq);
  });
}

describe('Lua scripts under random interleavings', () => {
  // endRetention > 0 (the default is one hour): a reaped hash stays readable with a TTL.
  const kept = { taskTimeout: TASK_TIMEOUT, retention: 600_000 };

  it('keep every invariant (random operations)', async () => {
    await fc.assert(property(sequenceArb, kept), { numRuns: 120 });
  });

  it('keep every invariant when a worker went silent and its tasks were requeued (stale leases everywhere)', async () => {
    await fc.assert(property(staleHolderSequenceArb, kept), { numRuns: 80 });
  });

  it('keep every invariant through outages: requeues held once per silence, silent workers pruned', async () => {
    await fc.assert(property(outageSequenceArb, kept), { numRuns: 60 });
  });

  /*
   * With endRetention 0 an ended task's hash is deleted at cleanup; a worker still holding an
   * old lease must not bring it back with its next heartbeat (found by this property:
   * submit t1; claim w2; w2 goes silent; requeue parks t1 at maxAttempts; reap(0); renew w2).
   */
  it('keep every invariant with endRetention 0 (an ended, reaped task is not brought back by a stale heartbeat)', async () => {
    await fc.assert(property(staleHolderSequenceArb, { taskTimeout: TASK_TIMEOUT, retention: 0 }), { numRuns: 150 });
  });

  /*
   * Found by the property above (seed -25709845): a stale holder's claim is parked, Redis loses
   * its data, the id is submitted again, and the stale holder's next heartbeat finds the hash
   * missing under a new epoch. It must not re-assert its claim beside the queued copy.
   */
  it('a task submitted again after Redis lost its data is not re-asserted by an old holder', async () => {
    const ops = [
      ...[3, 2, 0, 5, 1, 4].map((t) => ({ k: 'submit', t })),
      { k: 'claim', w: 0, n: 3 }, { k: 'stall', w: 0 }, { k: 'requeue', limit: 100 }, { k: 'claim', w: 1, n: 1 },
      { k: 'flush', i: 0 }, { k: 'reap', limit: 1 }, { k: 'submit', t: 0 }, { k: 'renew', w: 0, mask: 0 }, { k: 'reap', limit: 1 },
    ] as Op[];
    await runSequence(redis, server.options().keyPrefix, { taskTimeout: TASK_TIMEOUT, retention: 0, maxAttempts: 1 }, ops);
  });
});
