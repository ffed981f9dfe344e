/**
 * A script that found the function library missing is sent again once it is loaded again
 * (src/script-line.ts sendAgain). A slot's move meanwhile refuses the script sent again with a
 * MOVED that ioredis hands on (a batch the move split): the caller is told, as for a script
 * refused the first time it was sent, that the call did not run (a RedisUnavailableError that
 * refusedMoving marks), never a raw "MOVED <slot> <node>", which a call over several
 * partitions read as a failure that may have run.
 *
 * The two replies are made here, by a Cluster that answers them (a move between a reload's load
 * and its resends is a race no test can time).
 */
import { Cluster, ReplyError } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisUnavailableError } from '../src/index.js';
import { refusedMoving, runScript } from '../src/scripts.js';

describe('a script sent again after a reload, refused by a slot move', () => {
  it('rejects saying it did not run', async () => {
    const cluster = Object.create(Cluster.prototype) as Cluster & Record<string, unknown>;
    cluster.options = { enableAutoPipelining: true };
    const replies = [new ReplyError('ERR Function not found'), new ReplyError('MOVED 1234 127.0.0.1:7000')];
    let sent = 0;
    cluster.fcall = () => Promise.reject(replies[Math.min(sent++, 1)]);
    cluster.nodes = () => [];
    cluster.refreshSlotsCache = (done: () => void) => done();
    const e = await runScript(cluster, 'pause', ['{s}:a', '{s}:b'], ['']).catch((x: unknown) => x);
    expect(sent).toBe(2);
    expect(e).toBeInstanceOf(RedisUnavailableError);
    expect(refusedMoving(e)).toBe(true);
  });
});
