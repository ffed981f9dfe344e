/**
 * The seed's partition rule, shared by the worker and the monitor machines: a node cut off from
 * Redis pings its known peers, and has quorum when reached / total >= partitionPercentage. With
 * no other peer known, a node cannot tell a partition from an outage: it counts as quorum.
 */
import { named } from './invoke.js';

/** what pinging the peers found */
export interface PeerProbe {
  reached: number;
  total: number;
}

export const hasQuorum = (p: PeerProbe, partitionPercentage: number): boolean => p.total === 0 || (p.reached * 100) / p.total >= partitionPercentage;

/**
 * The state a node enters when Redis is lost, as the worker and the monitor machines both have it:
 * it waits for Redis (awaitRedis) and pings its peers at once (probePeers); with quorum it goes
 * on to `withQuorum`, without (or when the probe itself failed, which is reported) to
 * `withoutQuorum`. The machine adds what else the state handles (REDIS_BACK, STOP).
 */
export const probingState = <Q extends string, N extends string>(withQuorum: Q, withoutQuorum: N) => ({
  invoke: [
    named('awaitRedis'),
    {
      src: 'probePeers' as const,
      onDone: [
        { guard: 'quorumReached' as const, target: withQuorum, actions: 'recordProbe' as const },
        { target: withoutQuorum, actions: 'recordProbe' as const },
      ],
      onError: { target: withoutQuorum, actions: 'reportError' as const },
    },
  ],
});

/**
 * Where probing leads while Redis stays down and the node goes on waiting: it waits for Redis
 * (awaitRedis) and probes its peers again after fetchWorkerInterval. The machine adds what else
 * the state handles (REDIS_BACK, STOP).
 */
export const waitingForRedis = {
  invoke: named('awaitRedis'),
  after: { fetchWorkerInterval: 'probing' },
} as const;
