/**
 * Who may change the swarm through the dashboard: every POST carries the token (a bearer header,
 * compared in constant time) and comes from the page's own origin. The token is never in a
 * cookie, so a page on another site cannot ride on the browser's credentials; the origin check
 * (Origin, else Sec-Fetch-Site) and the required custom header refuse cross-site requests
 * anyway, so a token pasted into the page cannot be used by another one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** the header every mutating request must carry: a cross-site form cannot set it without CORS preflight, which we never answer */
export const CSRF_HEADER = 'x-task-swarm';

export type Refusal = { status: 403 | 401; reason: string };

const digest = (s: string) => createHash('sha256').update(s).digest();

export function checkMutation(req: IncomingMessage, token: string | undefined, readOnly: boolean): Refusal | null {
  if (readOnly) return { status: 403, reason: 'the dashboard is read-only' };
  if (!token) return { status: 403, reason: 'no token is set: the dashboard takes no action' };
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (!host || originHost !== host) return { status: 403, reason: 'cross-origin request refused' };
  } else if (req.headers['sec-fetch-site'] !== undefined && req.headers['sec-fetch-site'] !== 'same-origin' && req.headers['sec-fetch-site'] !== 'none') {
    return { status: 403, reason: 'cross-site request refused' };
  }
  if (req.headers[CSRF_HEADER] !== '1') return { status: 403, reason: `missing the ${CSRF_HEADER} header` };
  const auth = req.headers.authorization ?? '';
  const m = /^Bearer (.+)$/.exec(auth);
  // compared as digests: equal lengths, and constant time whatever was sent
  if (!m || !timingSafeEqual(digest(m[1]!), digest(token))) return { status: 401, reason: 'a valid token is required' };
  return null;
}
