/**
 * ioredis writes some warnings with console.warn, bypassing any logger: a password given to a
 * Redis that needs none is `[WARN] This Redis server's `default` user does not require a
 * password...`, once per connection (a command opens two or more). While a command runs, those
 * become one `task-swarm: warning:` line each; any other console.warn passes through.
 */

/** ioredis's warnings that the CLI says in its own words */
const PASSWORD_NOT_NEEDED = /^\[WARN\] (?:This )?Redis server(?:'s `default` user)? does not require a password/;
const SAID = 'this Redis needs no password (its default user has none): the password given is not used';

type Warn = (...args: unknown[]) => void;
/** the commands running now (main may run more than one at once in-process), each its sink */
const sinks = new Set<(text: string) => void>();
let original: Warn | undefined;

function routed(...args: unknown[]): void {
  if (typeof args[0] === 'string' && PASSWORD_NOT_NEEDED.test(args[0])) {
    for (const sink of sinks) sink(SAID);
    return;
  }
  original?.(...args);
}

/** Routes ioredis's warnings to `warn` (each said once) until the function returned is called. */
export function routeLibraryWarnings(warn: (text: string) => void): () => void {
  const said = new Set<string>();
  const sink = (text: string) => {
    if (said.has(text)) return;
    said.add(text);
    warn(text);
  };
  if (sinks.size === 0) {
    original = console.warn;
    console.warn = routed;
  }
  sinks.add(sink);
  return () => {
    if (!sinks.delete(sink) || sinks.size > 0) return;
    // (left as it is when something else replaced it meanwhile)
    if (console.warn === routed && original) console.warn = original;
    original = undefined;
  };
}
