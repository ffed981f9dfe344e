/**
 * An object keyed by names that come from users or from Redis (function names, reasons): with
 * no prototype, so that a name like `__proto__` or `constructor` is a key like any other. On a
 * plain object, `counts[fn] ??= {...}` with `fn` = `__proto__` found Object.prototype and wrote
 * the counts into it: a task function named `__proto__` gave every object of a process that
 * counted it (a monitor, the CLI's status, the dashboard) a `queued` property, and prom-client,
 * reading it as a label of every series, failed every worker and monitor started after.
 */
export function dictionary<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
