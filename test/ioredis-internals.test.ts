/**
 * The Client's outage guard (src/outage-guard.ts) and src/redis.ts reach into ioredis past its
 * public API: its queues, to fail a call that waits too long without sending it; its flush, to
 * tell why; its status changes and ready check, to tell ioredis's own handshake calls from the
 * Client's. package.json pins ioredis exactly. Each use has a fallback that keeps the process
 * running when a member is missing, and the fallback is quieter than the behaviour it stands in
 * for: a call waits its whole patience again, for example. So an ioredis upgrade that renames one
 * must fail here, loudly, not leave the guard silently weaker.
 */
import { describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
import { kCallbacks } from 'ioredis/built/autoPipelining.js';

describe('the ioredis internals the Client leans on are where it looks for them', () => {
  it('a connection: its queues, its flush, its status changes and its ready check', () => {
    const r = new Redis({ lazyConnect: true, enableAutoPipelining: true });
    const x = r as unknown as Record<string, unknown>;
    try {
      expect(typeof x.setStatus).toBe('function');
      expect(typeof x._readyCheck).toBe('function');
      expect(typeof x.flushQueue).toBe('function');
      expect(typeof (x.offlineQueue as { peekBack?: unknown })?.peekBack).toBe('function');
      expect(x.commandQueue).toBeDefined();
      expect(x._autoPipelines).toBeInstanceOf(Map);
    } finally {
      r.disconnect();
    }
  });

  it("a cluster: its nodes, and the auto-pipeline's callbacks key", () => {
    const c = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      expect(typeof c.nodes).toBe('function');
      expect(typeof kCallbacks).toBe('symbol');
    } finally {
      c.disconnect();
    }
  });
});
