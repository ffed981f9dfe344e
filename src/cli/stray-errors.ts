/**
 * A worker's task function can fail outside the promise the worker awaits: a rejection nobody
 * handles (a write it did not await), a throw from a timer or an event handler it set. Node's
 * default ends the whole process with a stack trace, and every other task running on it is left
 * RUNNING with no worker (until a monitor takes it back after taskTimeout), the worker never
 * deregistered. The CLI's worker and monitor say it in one line instead, with where it was
 * thrown, and go on. (The library installs nothing: a process that embeds a Worker owns its
 * process-wide handlers.)
 */
import { PROG, type CliIO } from './io.js';

/** Catch stray errors for the CLI's `what` until the returned function is called. */
export function catchStrayErrors(io: CliIO, what: string): () => void {
  const say = (kind: string) => (e: unknown) => io.stderr.write(`${PROG}: ${kind} (the ${what} goes on): ${describe(e)}\n`);
  const onRejection = say('a promise rejected with no handler');
  const onException = say('an error thrown outside any task call (from a timer or an event handler)');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}

/** the error's first line, and where it was thrown: its stack's first frame */
function describe(e: unknown): string {
  if (!(e instanceof Error)) return typeof e === 'string' ? e : safeString(e);
  const frame = e.stack?.split('\n').find((l) => /^\s+at /.test(l));
  const at = frame ? / \((.*)\)$/.exec(frame)?.[1] ?? frame.trim().slice(3) : undefined;
  return `${e.name}: ${e.message.split('\n')[0]}${at ? ` (at ${at})` : ''}`;
}

function safeString(v: unknown): string {
  try {
    return String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}
