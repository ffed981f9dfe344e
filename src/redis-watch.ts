/**
 * Redis reachability, for the machines: `redisWatch` reports a closed connection at once
 * (REDIS_LOST); `awaitRedis` pings until Redis answers and then reports REDIS_BACK. The
 * return is detected by asking, not by waiting for a connection event, because in a real
 * partition the connection does not close: it just goes silent, and later resumes.
 */
import { Cluster } from 'ioredis';
import { atKey, type Connection } from './redis.js';
import { fromCallback, type AnyEventObject } from 'xstate';
import { within } from './within.js';

/**
 * How often `redisWatch` pings a connection it keeps alive. Redis closes a connection idle for
 * more than its `timeout` (whole seconds, counted on its clock's seconds: a ping each second
 * holds under any timeout of 2 s or more), and so may a proxy or a NAT on the way.
 */
export const KEEP_ALIVE_MS = 1000;

/**
 * `keepAlive` (the monitor's): ping the connection at KEEP_ALIVE_MS while it is up, at `home` (a
 * key of the swarm, for a Cluster). The monitor is otherwise idle for up to taskTimeout / 4
 * between sweeps and for a whole taskTimeout in its grace; a connection closed for being idle
 * reads as Redis lost, and each return begins a new grace, idle in turn: under a Redis
 * `timeout` shorter than taskTimeout the monitor never left grace again, and no schedule fired
 * and no dead worker's task was requeued (test/monitor-idle-timeout.test.ts). A worker needs
 * none: it heartbeats every heartbeatInterval.
 */
export function redisWatch(redis: Connection, keepAlive?: { home: string }) {
  return fromCallback<AnyEventObject>(({ sendBack }) => {
    let lost = false;
    let pinging = false;
    // (one ping at a time: a silent link holds it, and none piles up behind it)
    const ping = () => {
      if (pinging || redis.status !== 'ready') return;
      pinging = true;
      atKey(redis, keepAlive!.home, 'PING')
        .catch(() => {})
        .finally(() => (pinging = false));
    };
    const timer = keepAlive ? setInterval(ping, KEEP_ALIVE_MS) : undefined;
    timer?.unref();
    const onClose = () => {
      if (lost) return;
      lost = true;
      sendBack({ type: 'REDIS_LOST' });
    };
    const onReady = () => {
      lost = false;
    };
    redis.on('close', onClose);
    redis.on('ready', onReady);
    return () => {
      clearInterval(timer);
      redis.off('close', onClose);
      redis.off('ready', onReady);
    };
  });
}

/**
 * `home`: a key of the swarm, where the PING goes. A PING alone goes to a node of a Cluster
 * drawn at random: with the swarm's own primary silent, another shard's answer was taken for
 * Redis back, and a worker went to reconcile, against the silent node, again and again.
 *
 * `holdMs` (optional): how long a wait that begins now holds its first ask (0 or less: none).
 * A Redis that answers the ping and refuses what comes after it (a swarm key of the wrong type
 * written by hand: WRONGTYPE at every heartbeat and reconcile) otherwise made a loop of
 * REDIS_BACK, a failed reconcile, and REDIS_BACK again at once: thousands of tries and log lines
 * a second. The worker holds it after a reconcile that failed, and only then: a Redis back after
 * a blip is asked for at once, or the lease of a task running through two blips aged past a short
 * taskTimeout. What waits alongside (the peer probe of `probing`) is not held.
 *
 * `told` (optional): what REDIS_BACK carries besides its type, asked once Redis answers (the
 * monitor's `sameServer`). It must not throw.
 */
export function awaitRedis(redis: Connection, everyMs: number, timeoutMs: number, home?: string, holdMs: () => number = () => 0, told?: () => Promise<object>) {
  return fromCallback<AnyEventObject>(({ sendBack }) => {
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const attempt = async () => {
      let ok = false;
      try {
        ok = (await within(timeoutMs, home === undefined ? redis.ping() : atKey(redis, home, 'PING'))) === 'PONG';
      } catch {
        ok = false;
      }
      if (stopped) return;
      // (what the machine is told with it, asked once Redis answers: told must not throw)
      const more = ok && told ? await told() : {};
      if (stopped) return;
      if (ok) sendBack({ ...more, type: 'REDIS_BACK' });
      else {
        // (a Cluster whose node went silent learns no slot move by itself: its replica may
        // serve the swarm now, src/command-deadlines.ts)
        if (redis instanceof Cluster) redis.refreshSlotsCache(() => {});
        timer = setTimeout(attempt, everyMs);
      }
    };
    // at once first: a state that re-enters often (redisDown re-probes every fetchWorkerInterval)
    // must not restart a wait that never gets to ask; unless held
    timer = setTimeout(attempt, Math.max(0, holdMs()));
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  });
}
