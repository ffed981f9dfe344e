/**
 * Task events on their way to Redis. While Redis is reachable an event is published at once
 * (pipelined with whatever else goes out in the same tick). While it is not, events wait here,
 * up to `limit` of them (the oldest are dropped past that, and counted), and go out in order
 * when the connection is ready again; so a worker that keeps its tasks through a Redis outage
 * does not lose their progress, and cannot run out of memory either.
 */
import type { Redis } from 'ioredis';

export class EventOutbox {
  private readonly waiting: [channel: string, message: string][] = [];
  /** events dropped because the outbox was full */
  dropped = 0;

  constructor(
    private readonly redis: Redis,
    private readonly limit: number,
    private readonly onDrop: (count: number) => void,
  ) {
    redis.on('ready', () => this.flush());
  }

  publish(channel: string, message: string): void {
    if (this.redis.status !== 'ready' || this.waiting.length) return this.hold(channel, message);
    this.redis.publish(channel, message).catch(() => this.hold(channel, message));
  }

  get size(): number {
    return this.waiting.length;
  }

  private hold(channel: string, message: string): void {
    this.waiting.push([channel, message]);
    if (this.waiting.length > this.limit) {
      this.waiting.shift();
      this.dropped++;
      if (this.dropped === 1 || this.dropped % 1000 === 0) this.onDrop(this.dropped);
    }
  }

  private flush(): void {
    const batch = this.waiting.splice(0);
    for (const [channel, message] of batch) this.redis.publish(channel, message).catch(() => this.hold(channel, message));
  }
}
