/**
 * The names of a worker's claims. Every claim carries a token (claim.lua ARGV[6]): Redis keeps
 * what a claim took as a receipt under its token, so a claim whose reply was lost (a timeout,
 * a broken connection, a resend after a reconnect) can neither take tasks twice nor strand
 * them. The ledger hands out tokens, remembers the claims whose replies never came (recovered
 * by the worker's `recoverClaims` effect: what they took is handed back, and a claim that has
 * not run yet never will), and collects the acknowledgements the claims carry (receipts of
 * answered claims are dropped then, a few at a time: a drop costs Redis a command, so a claim
 * carries them once ACK_BATCH have come, and the hash holds at most that many answered ones).
 * It also says when the receipts' expiry is to be set again (a claim would pay a PEXPIRE each
 * time otherwise): at the first claim, after a claim failed, and once a minute.
 */
import { randomBytes } from 'node:crypto';
import type { ClaimRequest } from './effects/queue.js';

/** a recovered (cancelled) token is forgotten after this: no late resend can still carry it */
const CANCELLED_KEEP_MS = 5 * 60_000;
/** answered claims whose receipts one claim drops */
const ACK_BATCH = 8;
/** how often the receipts' expiry (10 minutes, claim.lua) is set again */
const RECEIPTS_REFRESH_MS = 60_000;

export class ClaimLedger {
  private readonly prefix = randomBytes(4).toString('hex');
  private seq = 0;
  private acks: string[] = [];
  private readonly unanswered = new Set<string>();
  private readonly cancelled = new Map<string, number>();
  /** Date.now() from which the next claim sets the receipts' expiry again (0: the next one) */
  private refreshAt = 0;

  /** a claim request with a new token, carrying the acknowledgements due */
  request(base: Omit<ClaimRequest, 'token' | 'acks' | 'refreshReceipts'>): ClaimRequest {
    const now = Date.now();
    const refreshReceipts = now >= this.refreshAt;
    if (refreshReceipts) this.refreshAt = now + RECEIPTS_REFRESH_MS;
    let acks: string[] = [];
    if (this.acks.length >= ACK_BATCH || refreshReceipts) {
      acks = this.acks;
      this.acks = [];
    }
    if (this.cancelled.size) {
      for (const [token, at] of this.cancelled) {
        if (now - at < CANCELLED_KEEP_MS) break; // in cancelling order
        this.cancelled.delete(token);
        acks.push(token);
      }
    }
    // (one object of one shape, on every claim)
    const { worker, max, maxPayloadBytes, functions, rotation } = base;
    return { worker, max, maxPayloadBytes, functions, rotation, token: `${this.prefix}.${++this.seq}`, acks, refreshReceipts, countWorkers: base.countWorkers === true, db: base.db ?? 0 };
  }

  /** Follow a claim's reply: an answer is acknowledged later, a failure leaves the claim to recover. */
  track<T extends { receipt: boolean }>(req: ClaimRequest, reply: Promise<T>): Promise<T> {
    return reply.then(
      (r) => {
        if (r.receipt) this.acks.push(req.token);
        return r;
      },
      (e: unknown) => {
        this.unanswered.add(req.token);
        this.acks.push(...req.acks); // they may not have reached Redis
        this.refreshAt = 0; // nor the expiry; and Redis may have lost the hash
        throw e;
      },
    );
  }

  /**
   * A request the worker built and did not send (nothing to claim: no function with room): what
   * it carried is due again. Its acknowledgements dropped with it would leave their receipts in
   * Redis for as long as the worker's claims keep setting the hash's expiry, one per claim.
   */
  unsent(req: ClaimRequest): void {
    if (req.acks.length) this.acks.push(...req.acks);
    if (req.refreshReceipts) this.refreshAt = 0;
  }

  /** claims whose replies never came */
  get toRecover(): string[] {
    return [...this.unanswered];
  }

  /** these claims were recovered: their receipts are cancelled in Redis */
  recovered(tokens: string[]): void {
    const now = Date.now();
    for (const t of tokens) {
      this.unanswered.delete(t);
      this.cancelled.set(t, now);
    }
  }
}
