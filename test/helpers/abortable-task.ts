/**
 * A task function that runs `ms` unless aborted, counting its runs and aborts; with `announce`,
 * it emits `started` first, so that a test can act the moment it runs (e.g. send it `stop`).
 */
import type { TaskFunction } from '../../src/index.js';

export function abortableTask(ms: number, opts: { announce?: boolean } = {}) {
  const seen = { ran: 0, aborted: 0 };
  const fn: TaskFunction = (t) =>
    new Promise((resolve, reject) => {
      seen.ran++;
      const timer = setTimeout(() => resolve('ran to its end'), ms);
      t.signal.addEventListener('abort', () => {
        seen.aborted++;
        clearTimeout(timer);
        reject(new Error('aborted'));
      });
      if (opts.announce) t.emit('started', { at: Date.now() });
    });
  return { fn, seen };
}
