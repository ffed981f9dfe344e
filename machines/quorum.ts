/**
 * The seed's partition rule, shared by the worker and the monitor machines: a node cut off from
 * Redis pings its known peers, and has quorum when reached / total >= partitionPercentage. With
 * no other peer known, a node cannot tell a partition from an outage: it counts as quorum.
 */

/** what pinging the peers found */
export interface PeerProbe {
  reached: number;
  total: number;
}

export const hasQuorum = (p: PeerProbe, partitionPercentage: number): boolean => p.total === 0 || (p.reached * 100) / p.total >= partitionPercentage;
