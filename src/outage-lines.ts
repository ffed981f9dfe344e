/**
 * How a worker or a monitor says an outage: its start at WARN, its end at INFO. A Redis that
 * refuses rather than is gone (at its maxmemory: "OOM command not allowed") sends them round
 * their outage states every second or so, each round an outage begun and ended: a 10 s OOM was
 * 11 "Redis unreachable" lines a worker, each followed by "Redis is back", for a Redis that
 * answered all along. So a refusal is said as one, each of its lines once within REPEAT_MS, and
 * its end once it has stayed away SETTLE_MS.
 */
import { ReplyError } from 'ioredis';
import type { LoggerLike } from './logger.js';
import { refusalText } from './redis-refusal.js';

/** the same line said again within this long is the same trouble going on */
const REPEAT_MS = 30_000;
/** a refusal's end is said once no round of it came for this long */
const SETTLE_MS = 5000;
/** a refusal is the outage's cause only this long after it came (a round is about a second) */
const FRESH_MS = 3000;

export class OutageLines {
  /** each line said at WARN, and when (performance.now()), for REPEAT_MS */
  private readonly lines = new Map<string, number>();
  /** what Redis answered the last call refused, as one line, and when (undefined: no refusal, or one answered since) */
  private refusal?: { text: string; at: number };
  /** the outage under way began with a refusal (set by `begins`) */
  private refused = false;
  /** a refusal's end, said if no round of it comes first */
  private end?: NodeJS.Timeout;

  /** `connected`: whether the component's connection is up (a refusal is no cause of an outage without one) */
  constructor(
    private readonly log: LoggerLike,
    private readonly who: string,
    private readonly connected: () => boolean,
  ) {}

  /** a call failed with `e`: a refusal (Redis answered with an error) is kept, to be said as the outage's cause */
  failed(e: unknown): void {
    this.refusal = e instanceof ReplyError ? { text: refusalText(e)!, at: performance.now() } : undefined;
  }

  /** Redis answered this component's calls again: a later outage is said as what it is then */
  answered(): void {
    this.refusal = undefined;
  }

  /** "Redis unreachable", or what Redis refused with, just now and on a connection still up: the outage's line begins so */
  get what(): string {
    return this.refusing ? `Redis refuses this ${this.who}'s calls (${this.refusal!.text})` : 'Redis unreachable';
  }

  /** the outage under way is a refusal (a Redis killed or frozen since it refused is not) */
  private get refusing(): boolean {
    return this.refusal !== undefined && performance.now() - this.refusal.at < FRESH_MS && this.connected();
  }

  /** a line of the trouble: at WARN, or at DEBUG when it was said at WARN within REPEAT_MS */
  warn(text: string): void {
    const now = performance.now();
    for (const [t, at] of this.lines) if (now - at >= REPEAT_MS) this.lines.delete(t);
    if (this.lines.has(text)) return void this.log.debug(text);
    this.lines.set(text, now);
    this.log.warn(text);
  }

  /** the outage's start: a refusal's as `warn` says it, an outage's at WARN */
  begins(text: string): void {
    clearTimeout(this.end);
    this.end = undefined;
    this.refused = this.refusing;
    if (this.refused) this.warn(text);
    else this.log.warn(text);
  }

  /** the outage's end: at INFO, a refusal's once it has stayed away SETTLE_MS (the last round's words) */
  ends(text: string): void {
    if (!this.refused) return this.said(text);
    clearTimeout(this.end);
    this.end = setTimeout(() => {
      this.end = undefined;
      this.said(text);
    }, SETTLE_MS);
    this.end.unref();
  }

  /** an end said: the trouble is over, and the next one's lines are news */
  private said(text: string): void {
    this.lines.clear();
    this.log.info(text);
  }

  /** the component stopped: an end still to say is not said after it */
  close(): void {
    clearTimeout(this.end);
    this.end = undefined;
  }
}
