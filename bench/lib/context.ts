/** What every scenario gets: the private Redis, a polling connection, the time budget, a log. */
import type { Redis } from 'ioredis';
import type { BenchRedis } from './redis.js';
import type { RedisAddr } from './libs.js';
import { nowMs } from './timing.js';

export interface Ctx {
  redis: BenchRedis;
  addr: RedisAddr;
  /** connection the bench polls completion counters with (named `bench-poll`) */
  poll: Redis;
  /** monotonic ms after which scenarios stop starting new runs */
  deadline: number;
  /** set when the scenario overran its hard limit: stop at the next check */
  cancelled: boolean;
  log(msg: string): void;
}

export class CancelledError extends Error {}

export function timeLeft(ctx: Ctx): number {
  return ctx.cancelled ? -Infinity : ctx.deadline - nowMs();
}

/** throw if the scenario was cancelled */
export function check(ctx: Ctx): void {
  if (ctx.cancelled) throw new CancelledError('cancelled: the scenario overran its time limit');
}
